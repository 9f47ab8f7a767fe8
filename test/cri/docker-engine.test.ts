import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { DockerBackend } from '../../src/cri/docker/backend';
import { parseDockerHost } from '../../src/cri/docker/engine';
import { ThrottledRelay, UnixRelay } from '../support/cri-relay';
import { TestImagegate } from '../support/cri-server';
import { requireTcp, requireUnixSocket, services, testImages } from '../../testing/services';
import { rejectsWith } from './conformance';

describe('Docker backend: the engine going away, and stalled pulls', function () {
  this.timeout(120_000);
  let dir: string;

  before(async () => {
    await requireUnixSocket('Docker Engine', services.dockerSocket);
    await requireTcp('docker-registry (open)', services.registryOpen);
    dir = mkdtempSync(join(tmpdir(), 'imagegate-docker-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('answers UNAVAILABLE naming the endpoint while Docker Engine is unreachable, and serves again once it is back', async () => {
    const relay = new UnixRelay(join(dir, 'docker.sock'), services.dockerSocket);
    await relay.start();
    const endpoint = `unix://${relay.path}`;
    const gate = await TestImagegate.start(new DockerBackend({ endpoint: parseDockerHost(endpoint)!, pullProgressTimeoutMs: 60_000 }));
    const image = `${services.registryOpen}/${testImages.busybox}`;
    try {
      await gate.call('PullImage', { image: { image } });
      assert.ok((await gate.call('ImageStatus', { image: { image } })).image);

      await relay.stop();
      // Answers cached while Docker's event stream was up stay valid until the stream's end is seen: wait for that.
      await eventually(async () => {
        await rejectsWith(gate.call('ImageStatus', { image: { image } }, { timeoutMs: 10_000 }), status.UNAVAILABLE);
      }, 5000);
      for (const [method, request] of [
        ['ImageStatus', { image: { image } }],
        ['ListImages', {}],
        ['PullImage', { image: { image } }],
        ['RemoveImage', { image: { image } }],
      ] as const) {
        const details = await rejectsWith(gate.call(method, request, { timeoutMs: 10_000 }), status.UNAVAILABLE);
        assert.ok(details.includes(endpoint), `${method}: ${details}`);
      }
      const health = await new Promise<{ status: string }>((resolve, reject) =>
        gate.health.Check({ service: '' }, (err, res) => (err ? reject(err) : resolve(res as { status: string }))),
      );
      assert.equal(health.status, 'SERVING', 'the server itself keeps serving');

      await relay.start();
      assert.ok((await gate.call('ImageStatus', { image: { image } })).image);
      assert.ok((await gate.call('ListImages', {})).images.length > 0);
    } finally {
      await gate.stop();
      await relay.stop();
    }
  });

  it('aborts a pull that makes no progress for the configured time, with a clear message', async () => {
    const relay = await ThrottledRelay.start(services.registryOpen, { bytesPerSecond: 1024 * 1024, stallAfterBytes: 256 * 1024 });
    const gate = await TestImagegate.start(new DockerBackend({ endpoint: parseDockerHost(`unix://${services.dockerSocket}`)!, pullProgressTimeoutMs: 2000 }));
    try {
      for (const image of (await gate.call('ListImages', {})).images as { id: string; repoTags: string[] }[]) {
        if (image.repoTags.some((tag) => tag.endsWith(`/${testImages.large}`))) await gate.call('RemoveImage', { image: { image: image.id } });
      }
      const details = await rejectsWith(gate.call('PullImage', { image: { image: `${relay.host}/${testImages.large}` } }, { timeoutMs: 60_000 }), status.ABORTED);
      assert.match(details, /made no progress for 2s/);
      assert.ok(details.includes(`${relay.host}/test/large:1`));
    } finally {
      await gate.stop();
      await relay.close();
    }
  });

  it('rejects a --docker-host that is neither unix:// nor tcp://', () => {
    assert.equal(parseDockerHost('http://127.0.0.1:2375'), undefined);
    assert.equal(parseDockerHost('unix://relative.sock'), undefined);
    assert.deepEqual(parseDockerHost('tcp://127.0.0.1:2375')?.options, { host: '127.0.0.1', port: 2375, protocol: 'http' });
    assert.deepEqual(parseDockerHost('/var/run/docker.sock')?.options, { socketPath: '/var/run/docker.sock' });
  });
});

/** Retries `check` every 50 ms until it passes, failing with its last error after `timeoutMs`. */
async function eventually(check: () => Promise<void>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
