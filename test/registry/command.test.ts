import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createAuthChain } from '../../src/registry/auth/chain';
import { registrySchema } from '../../src/registry/config';
import { defaultRegistryConfig, ensureDemoUser } from '../../src/registry/default-config';
import { createLogger } from '../../src/log/logger';
import { Secret } from '../../src/log/secret';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  run(process.execPath, ['--require', 'tsx/cjs', 'bin/main.ts', 'registry', ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 });

describe('registry facade: command, TLS and the embedded default', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-registry-cmd-'));

  it('refuses a bad config file with one line naming the setting, exit code 2', async () => {
    const file = join(dir, 'bad.yml');
    writeFileSync(file, 'registry:\n  upstreams:\n    - {name: u, url: "ftp://x"}\n');
    await assert.rejects(cli(['--config', file]), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr.trim(), /^imagegate: registry\.upstreams\[0\]\.url: must be an http\(s\) URL$/m);
      return true;
    });
  });

  it('prints its flags with --help', async () => {
    const { stdout } = await cli(['--help']);
    for (const flag of ['--listen', '--config', '--tls-cert', '--tls-key', '--url']) assert.ok(stdout.includes(flag), flag);
  });

  it('serves HTTPS with --tls-cert/--tls-key and stops cleanly on SIGTERM', async () => {
    const key = join(dir, 'tls.key');
    const cert = join(dir, 'tls.crt');
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    const config = join(dir, 'tls.yml');
    writeFileSync(config, 'registry:\n  metricsListen: ""\n  upstreams: [{name: u, prefix: open, url: "http://127.0.0.1:5000"}]\n  auth: {anonymousPull: ["open/**"]}\n');
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'bin/main.ts', 'registry', '--config', config, '--listen', '127.0.0.1:5015', '--tls-cert', cert, '--tls-key', key], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, IMAGEGATE_LOG_LEVEL: 'info' } });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += String(c)));
    try {
      for (let i = 0; i < 300 && !stderr.includes('listening') && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(stderr.includes('https://127.0.0.1:5015'), stderr);
      const status = await new Promise<{ code?: number; auth?: string }>((done, fail) =>
        https.get('https://127.0.0.1:5015/v2/', { ca: readFileSync(cert) }, (res) => {
          res.resume();
          done({ code: res.statusCode, auth: String(res.headers['www-authenticate']) });
        }).once('error', fail),
      );
      assert.equal(status.code, 401);
      assert.ok(status.auth?.startsWith('Bearer realm="https://127.0.0.1:5015/token"'), status.auth);
      const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', 'docker://127.0.0.1:5015/open/test/busybox:1']);
      assert.equal(JSON.parse(stdout).Name, '127.0.0.1:5015/open/test/busybox');
    } finally {
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
  });

  it('embedded default: parses, creates the demo user once, and the htpasswd chain accepts it', async () => {
    const state = join(dir, 'state');
    const config = registrySchema.parse(defaultRegistryConfig(state));
    assert.equal(config.upstreams[0].url, 'https://registry-1.docker.io');
    assert.equal(config.upstreams[0].repositoryPrefix, 'library');
    const logs: string[] = [];
    ensureDemoUser(state, createLogger({ sink: logs }));
    const password = readFileSync(join(state, 'demo-password'), 'utf8').trim();
    ensureDemoUser(state, createLogger({ sink: logs }));
    assert.equal(readFileSync(join(state, 'demo-password'), 'utf8').trim(), password, 'not recreated');
    assert.ok(!logs.join('\n').includes(password), 'the password is not logged');
    const chain = await createAuthChain(config.auth.chain, { logger: createLogger({ sink: [] }), baseDir: state });
    try {
      const ok = await chain.authenticate({ kind: 'basic', username: 'demo', password: new Secret(password) }, { clientIp: '127.0.0.1' });
      assert.equal(ok.kind, 'allow');
      const bad = await chain.authenticate({ kind: 'basic', username: 'demo', password: new Secret('nope') }, { clientIp: '127.0.0.1' });
      assert.equal(bad.kind, 'deny');
    } finally {
      await chain.close();
    }
  });
});
