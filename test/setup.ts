// Mocha root setup, loaded before every spec (see .mocharc.json).
process.env.IMAGEGATE_LOG_LEVEL ??= 'error';
