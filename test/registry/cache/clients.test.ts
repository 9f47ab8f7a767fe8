import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CriTestClient } from '../../support/containerd';
import { requireUnixSocket, services } from '../../../testing/services';
import { startTestFacade } from '../support/facade';
import { PrivateUpstream, type PushedImage } from '../support/private-upstream';
import { type Facade, cacheConfig, cacheDir, cacheUsers, hits } from './support';

const run = promisify(execFile);
const MiB = 1024 * 1024;

async function sh(cmd: string, args: string[], input?: string): Promise<string> {
  const child = run(cmd, args, { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
  if (input !== undefined) child.child.stdin?.end(input);
  try {
    return (await child).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

/** A facade on the first free port of 5050–5059 (the ports the CI's containerd may pull from over HTTP). */
async function startOnContainerdPort(upstreams: Record<string, string>, cache: Record<string, unknown>): Promise<Facade> {
  for (let port = 5059; port >= 5050; port--) {
    try {
      return await startTestFacade(cacheConfig(upstreams, cache, `127.0.0.1:${port}`));
    } catch (err) {
      if (!/cannot listen/.test((err as Error).message)) throw err;
    }
  }
  throw new Error('no free port in 127.0.0.1:5050-5059 for the facade');
}

describe('registry blob cache: real clients pull from the cache (Docker, skopeo, containerd CRI)', function () {
  this.timeout(240_000);
  let upstream: PrivateUpstream;
  let facade: Facade;
  let host: string;
  let image: PushedImage;
  const dir = cacheDir();
  const dockerConfig = mkdtempSync(join(tmpdir(), 'imagegate-docker-'));
  const work = mkdtempSync(join(tmpdir(), 'imagegate-skopeo-'));
  const docker = (...args: string[]) => sh('docker', ['--config', dockerConfig, ...args]);
  const ref = () => `${host}/priv/clients/app:1`;

  before(async () => {
    await requireUnixSocket('Docker Engine', services.dockerSocket);
    await requireUnixSocket('containerd (CRI)', services.containerdSocket);
    upstream = await PrivateUpstream.start();
    image = await upstream.pushImage('clients/app', '1', 4 * MiB);
    facade = await startOnContainerdPort({ priv: upstream.hostPort }, { blobs: { dir, maxBytes: 256 * MiB }, tags: { maxStale: '1h' } });
    host = `127.0.0.1:${facade.address.port}`;
    await sh('docker', ['--config', dockerConfig, 'login', host, '-u', cacheUsers.alice.username, '--password-stdin'], cacheUsers.alice.password);
  });
  after(async () => {
    await docker('image', 'rm', '-f', ref()).catch(() => undefined);
    await facade?.close(1000);
    await upstream?.close();
    for (const d of [dir, dockerConfig, work]) rmSync(d, { recursive: true, force: true });
  });

  it('docker pull twice: the second pull makes zero blob GETs on the upstream', async () => {
    await docker('pull', ref());
    const first = upstream.blobGets('clients/app');
    assert.equal(first, 2, 'the first pull fetches the config and the layer once each');
    await docker('image', 'rm', '-f', ref());
    const hitsBefore = await hits(facade);
    await docker('pull', ref());
    assert.equal(upstream.blobGets('clients/app'), first);
    assert.equal(await hits(facade), hitsBefore + 2);
  });

  it('skopeo copy twice: the second copy makes zero blob GETs on the upstream; skopeo verifies every blob', async () => {
    await upstream.pushImage('clients/skopeo', '1', 2 * MiB);
    const copy = (to: string) =>
      sh('skopeo', ['copy', '-q', '--src-tls-verify=false', '--src-creds', `${cacheUsers.alice.username}:${cacheUsers.alice.password}`, `docker://${host}/priv/clients/skopeo:1`, `dir:${join(work, to)}`]);
    await copy('first');
    const first = upstream.blobGets('clients/skopeo');
    assert.equal(first, 2);
    const hitsBefore = await hits(facade);
    await copy('second');
    assert.equal(upstream.blobGets('clients/skopeo'), first);
    assert.equal(await hits(facade), hitsBefore + 2);
  });

  it('containerd CRI pull from the warm cache: zero blob GETs on the upstream', async () => {
    const cri = new CriTestClient(`unix://${services.containerdSocket}`);
    try {
      await cri.call('removeImage', { image: { image: ref() } }).catch(() => undefined);
      const before = upstream.blobGets('clients/app');
      const hitsBefore = await hits(facade);
      const { imageRef } = await cri.call('pullImage', { image: { image: ref() }, auth: { username: cacheUsers.alice.username, password: cacheUsers.alice.password } });
      assert.match(imageRef, /^sha256:/);
      assert.equal(upstream.blobGets('clients/app'), before);
      assert.ok((await hits(facade)) >= hitsBefore + 1);
      await cri.call('removeImage', { image: { image: ref() } });
    } finally {
      cri.close();
    }
  });

  it('upstream stopped: docker pull by tag still succeeds from the stale tag manifest and the cached blobs', async () => {
    await docker('image', 'rm', '-f', ref());
    await upstream.stop();
    try {
      await docker('pull', ref());
      const id = (await docker('image', 'inspect', '--format', '{{.Id}}', ref())).trim();
      assert.equal(id, image.configDigest);
    } finally {
      await upstream.resume();
    }
  });
});
