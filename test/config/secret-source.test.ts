import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/config/errors';
import { registryCommand } from '../../src/registry/command';

const dir = mkdtempSync(join(tmpdir(), 'imagegate-secret-source-'));

/** A facade config whose one upstream authenticates with `auth` (YAML flow text). */
function facade(auth: string): string {
  const path = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, `registry:\n  listen: "127.0.0.1:0"\n  upstreams:\n    - name: hub\n      url: https://registry.example\n      auth: ${auth}\n`);
  return path;
}

async function refused(auth: string, setting: string, problem: RegExp): Promise<void> {
  await assert.rejects(registryCommand.run(['--config', facade(auth)]), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.setting, setting);
    assert.match(err.problem, problem);
    return true;
  });
}

describe('configuration: a secret is {value | file | env}', () => {
  it('refuses a bare string where a secret is expected, naming the three forms', async () => {
    await refused('{ basic: { username: u, password: p } }', 'registry.upstreams[0].auth.basic.password', /not a bare string: write \{value: …\}, \{file: \/path\} or \{env: NAME\}/);
    await refused('{ static: { token: abc } }', 'registry.upstreams[0].auth.static.token', /not a bare string/);
  });

  it('refuses none or two of the forms, and a key that is not one of them', async () => {
    await refused('{ basic: { username: u, password: {} } }', 'registry.upstreams[0].auth.basic.password', /exactly one of value, file, env/);
    await refused('{ basic: { username: u, password: { value: a, env: B } } }', 'registry.upstreams[0].auth.basic.password', /exactly one of value, file, env/);
    await refused('{ basic: { username: u, password: { vaule: a } } }', 'registry.upstreams[0].auth.basic.password.vaule', /did you mean "value"/);
    await refused('{ basic: { username: u, password: 42 } }', 'registry.upstreams[0].auth.basic.password', /expected a secret: \{value: …\}/);
  });
});
