import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RunningRegistry } from '../../src/registry/server';
import { requireUnixSocket, services } from '../../testing/services';
import { startTestFacade, testConfig, users } from './support/facade';

const run = promisify(execFile);

/** Runs a command, failing with its stderr. */
async function sh(cmd: string, args: string[], input?: string): Promise<string> {
  const child = run(cmd, args, { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
  if (input !== undefined) {
    child.child.stdin?.end(input);
  }
  try {
    return (await child).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

describe('registry facade: real clients (Docker CLI + Engine, skopeo)', function () {
  this.timeout(180_000);
  let facade: RunningRegistry;
  let host: string;
  const dockerConfig = mkdtempSync(join(tmpdir(), 'imagegate-docker-'));
  const work = mkdtempSync(join(tmpdir(), 'imagegate-skopeo-'));
  const docker = (...args: string[]) => sh('docker', ['--config', dockerConfig, ...args]);

  before(async () => {
    await requireUnixSocket('Docker Engine', services.dockerSocket);
    facade = await startTestFacade(testConfig({ listen: '127.0.0.1:0' }));
    host = `127.0.0.1:${facade.address.port}`;
  });
  after(async () => {
    await docker('image', 'rm', '-f', `${host}/basic/test/busybox:2`).catch(() => undefined);
    await facade?.close(1000);
    rmSync(dockerConfig, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('docker login refuses a wrong password', async () => {
    await assert.rejects(sh('docker', ['--config', dockerConfig, 'login', host, '-u', users.alice.username, '--password-stdin'], 'wrong-password'), /unauthorized|401/i);
  });

  it('docker login, then docker pull by tag through the token flow, and the image runs', async () => {
    const out = await sh('docker', ['--config', dockerConfig, 'login', host, '-u', users.alice.username, '--password-stdin'], users.alice.password);
    assert.match(out, /Login Succeeded/);
    await docker('pull', `${host}/basic/test/busybox:2`);
    const said = await docker('run', '--rm', `${host}/basic/test/busybox:2`, 'echo', 'pulled-through-the-facade');
    assert.equal(said.trim(), 'pulled-through-the-facade');
  });

  it('docker pull by digest, through the token-auth upstream', async () => {
    const digest = (await docker('image', 'inspect', '--format', '{{index .RepoDigests 0}}', `${host}/basic/test/busybox:2`)).trim().split('@')[1];
    assert.match(digest, /^sha256:[a-f0-9]{64}$/);
    const ref = `${host}/token/test/busybox@${digest}`;
    await docker('pull', ref);
    const said = await docker('run', '--rm', ref, 'echo', 'by-digest');
    assert.equal(said.trim(), 'by-digest');
    await docker('image', 'rm', '-f', ref).catch(() => undefined);
  });

  it('docker pull is refused for a repository the user may not pull', async () => {
    await sh('docker', ['--config', dockerConfig, 'login', host, '-u', users.bob.username, '--password-stdin'], users.bob.password);
    await assert.rejects(docker('pull', `${host}/token/test/large:1`), /denied|unauthorized|authentication required/i);
  });

  it('skopeo inspect with credentials', async () => {
    const out = JSON.parse(await sh('skopeo', ['inspect', '--tls-verify=false', '--creds', `${users.alice.username}:${users.alice.password}`, `docker://${host}/token/test/busybox:1`]));
    assert.equal(out.Name, `${host}/token/test/busybox`);
    assert.deepEqual([...out.RepoTags].sort(), ['1', '2', '3', 'oci']);
  });

  it('skopeo copy with credentials, including a 16 MiB layer, verified by digest', async () => {
    await sh('skopeo', ['copy', '-q', '--src-tls-verify=false', '--src-creds', `${users.alice.username}:${users.alice.password}`, `docker://${host}/follow/test/large:1`, `dir:${join(work, 'large')}`]);
    const manifest = JSON.parse(await sh('cat', [join(work, 'large', 'manifest.json')]));
    assert.ok(manifest.layers.length >= 1);
  });

  it('skopeo copy follows a blob redirect the facade passes on (pass mode) to the storage host', async () => {
    await sh('skopeo', ['copy', '-q', '--src-tls-verify=false', '--src-creds', `${users.alice.username}:${users.alice.password}`, `docker://${host}/pass/test/large:1`, `dir:${join(work, 'passed')}`]);
    const manifest = JSON.parse(await sh('cat', [join(work, 'passed', 'manifest.json')]));
    assert.ok(manifest.layers.length >= 1);
  });

  it('skopeo is refused with a wrong password', async () => {
    await assert.rejects(sh('skopeo', ['inspect', '--tls-verify=false', '--creds', `${users.alice.username}:nope`, `docker://${host}/token/test/busybox:1`]), /unauthorized|invalid username\/password/i);
  });
});
