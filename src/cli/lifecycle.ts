/**
 * Resolves when the process is asked to stop (SIGTERM or SIGINT), once.
 * A second signal while shutting down exits at once with code 1. With
 * `keepAlive`, the process runs until then even with nothing else to do.
 */
export function untilSignal(options: { keepAlive?: boolean } = {}): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let stopping = false;
    // Signal handlers alone do not keep Node running: a process with nothing
    // else to wait for (the credential-provider installer) asks for a timer.
    const alive = options.keepAlive ? setInterval(() => undefined, 2 ** 30) : undefined;
    const handler = (signal: NodeJS.Signals) => {
      if (stopping) process.exit(1);
      stopping = true;
      clearInterval(alive);
      resolve(signal);
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}
