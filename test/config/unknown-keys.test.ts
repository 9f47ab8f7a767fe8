import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../../src/config/errors';
import { loadConfig } from '../../src/config/load';
import { closest, findUnknownKey } from '../../src/config/unknown-keys';
import { loadImageServiceConfig } from '../../src/cri/config';
import { registryCommand } from '../../src/registry/command';

const dir = mkdtempSync(join(tmpdir(), 'imagegate-unknown-keys-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

function refusedAs(fn: () => unknown, setting: string, problem: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.setting, setting);
    assert.match(err.problem, problem);
    return true;
  });
}

describe('configuration: unknown keys are errors at every level', () => {
  const schema = z.object({
    backend: z.enum(['docker', 'cri']).default('docker'),
    credentials: z.object({ rules: z.array(z.object({ registry: z.string(), provider: z.string() })).default([]) }).optional(),
    extra: z.record(z.string(), z.string()).default({}),
    open: z.looseObject({ known: z.string().optional() }).optional(),
  });
  const load = (yaml: string) => loadConfig({ command: 't', schema, bindings: [], argv: ['--config', file('c.yaml', yaml)], configEnv: '' });

  it('names an unknown key at the top, in a mapping and in a list item, with the key probably meant', () => {
    refusedAs(() => load('bakend: cri\n'), 'bakend', /unknown setting; did you mean "backend"\?/);
    refusedAs(() => load('credentals: {}\n'), 'credentals', /did you mean "credentials"/);
    refusedAs(() => load('credentials: {rule: []}\n'), 'credentials.rule', /did you mean "rules"/);
    refusedAs(() => load('credentials: {rules: [{registry: a, provider: b, providr: c}]}\n'), 'credentials.rules[0].providr', /did you mean "provider"/);
    refusedAs(() => load('zzzzzz: 1\n'), 'zzzzzz', /^unknown setting$/);
  });

  it('leaves records and mappings that take any key alone, and accepts a valid file', () => {
    assert.deepEqual(load('extra: {anything: x}\nopen: {known: a, other: b}\nbackend: cri\n').config.extra, { anything: 'x' });
  });

  it('suggests by case-insensitive edit distance (a transposition is one edit), never a far key', () => {
    assert.equal(closest('regsitry', ['registry', 'log']), 'registry');
    assert.equal(closest('LOG', ['registry', 'log']), 'log');
    assert.equal(closest('tls', ['registry', 'listen']), undefined);
    assert.equal(findUnknownKey(schema, { backend: 'cri' }), undefined);
  });

  it('holds for the real commands: image-service, and registry (where a misspelt section used to read as a missing one)', async () => {
    refusedAs(() => loadImageServiceConfig(['--config', file('cri.yaml', 'bakend: cri\n')], {}), 'bakend', /did you mean "backend"/);
    await assert.rejects(registryCommand.run(['--config', file('reg.yaml', 'registy:\n  upstreams: []\n')]), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, 'registy: unknown setting; did you mean "registry"?');
      return true;
    });
  });
});
