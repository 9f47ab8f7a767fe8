/**
 * Regression test for issue 19, item 11: every file setting of the facade is
 * checked at start-up, and a bad one stops `imagegate registry` with exit code
 * 2 and one line naming the setting (not a raw OpenSSL or errno message).
 * Runs the real CLI.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../../..');

describe('registry hardening: file settings checked at start-up (issue 19, item 11)', function () {
  this.timeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-files-'));
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const pem = (type: 'rsa' | 'ec', curve?: string) =>
    (type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: curve! })).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  mkdirSync(join(dir, 'a-directory'));

  const start = async (registry: Record<string, unknown>) => {
    const file = write(`config-${Math.random().toString(36).slice(2)}.yml`, stringify({
      registry: { listen: '127.0.0.1:0', metricsListen: '', upstreams: [{ name: 'u', url: 'http://127.0.0.1:5010' }], ...registry },
    }));
    try {
      await run(process.execPath, ['--require', 'tsx/cjs', 'bin/main.ts', 'registry', '--config', file], { cwd: ROOT, timeout: 30_000 });
      assert.fail('the facade started');
    } catch (err) {
      return err as { code: number; stderr: string };
    }
  };

  const cases: [string, () => Record<string, unknown>, string, RegExp][] = [
    ['a token.keyFile that does not exist', () => ({ token: { keyFile: join(dir, 'missing.pem') } }), 'registry.token.keyFile', /no such file/],
    ['a token.keyFile that is a directory', () => ({ token: { keyFile: join(dir, 'a-directory') } }), 'registry.token.keyFile', /is a directory/],
    ['a token.keyFile holding no key', () => ({ token: { keyFile: write('garbage.pem', 'not a key\n') } }), 'registry.token.keyFile', /holds no PEM private key/],
    ['a token.keyFile holding an RSA key', () => ({ token: { keyFile: write('rsa.pem', pem('rsa')) } }), 'registry.token.keyFile', /an RSA key; facade tokens are ES256/],
    ['a token.keyFile holding a P-384 key', () => ({ token: { keyFile: write('p384.pem', pem('ec', 'secp384r1')) } }), 'registry.token.keyFile', /EC secp384r1 key/],
    ['a TLS certificate that is not one', () => ({ tls: { cert: write('bad.crt', 'nope\n'), key: write('p256.pem', pem('ec', 'prime256v1')) } }), 'registry.tls.cert', /holds no PEM certificate/],
    ['an upstream caFile that is not a certificate', () => ({ upstreams: [{ name: 'u', url: 'https://127.0.0.1:5010', caFile: write('ca.pem', pem('ec', 'prime256v1')) }] }), 'registry.upstreams[0].caFile', /holds no PEM certificate/],
    ['an upstream password file that does not exist', () => ({ upstreams: [{ name: 'u', url: 'http://127.0.0.1:5010', auth: { basic: { username: 'x', password: { file: join(dir, 'nope') } } } }] }), 'registry.upstreams[0].auth.basic.password.file', /no such file/],
  ];
  for (const [what, config, setting, problem] of cases) {
    it(`exits 2 with one line naming ${setting} for ${what}`, async () => {
      const err = await start(config());
      assert.equal(err.code, 2, err.stderr);
      const lines = err.stderr.trim().split('\n');
      assert.equal(lines.length, 1, err.stderr);
      assert.ok(lines[0].startsWith(`imagegate: ${setting}: `), lines[0]);
      assert.match(lines[0], problem);
      assert.doesNotMatch(lines[0], /ERR_OSSL|DECODER|error:[0-9A-F]{8}|ENOENT/);
    });
  }
});
