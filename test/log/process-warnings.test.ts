import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

describe('process warnings in the log stream', () => {
  it('the AWS SDK’s Node.js version notice arrives as one JSON line, not nine lines of raw text (on Node ≥ 22 it is not emitted)', async () => {
    const { stderr } = await run(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures/aws-client-cli.ts')], {
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: '' },
    });
    const lines = stderr.split('\n').filter(Boolean);
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
    if (Number(process.versions.node.split('.')[0]) < 22) {
      assert.equal(lines.length, 1, stderr);
      const entry = JSON.parse(lines[0]);
      assert.equal(entry.level, 'warn');
      assert.match(entry.warning, /^NodeVersionSupportWarning: The AWS SDK for JavaScript \(v3\) .* will require node >=22/);
    }
  });
});
