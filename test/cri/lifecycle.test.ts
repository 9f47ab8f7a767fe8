import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call, imageServiceClient } from '../../src/cri/client/connect';
import { ThrottledRelay } from '../support/cri-relay';
import { startCli, waitForSocket, waitUntil, type Running } from '../support/cri-cli';
import { requireTcp, requireUnixSocket, services, testImages } from '../../testing/services';

/** `imagegate image-service` as a real process: socket lifecycle, signals, metrics. */
describe('image-service process lifecycle', function () {
  this.timeout(120_000);
  let dir: string;
  const running: Running[] = [];

  const serve = (socket: string, ...flags: string[]) => {
    const r = startCli(['image-service', '--socket', socket, '--metrics-listen', '127.0.0.1:0', ...flags]);
    running.push(r);
    return r;
  };

  before(async () => {
    await requireUnixSocket('Docker Engine', services.dockerSocket);
    await requireTcp('docker-registry (open)', services.registryOpen);
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'imagegate-life-'));
  });
  afterEach(async () => {
    for (const r of running.splice(0)) {
      if (r.child.exitCode === null) r.child.kill('SIGKILL');
      await r.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the socket folder, sets mode 0660, serves, counts calls in /metrics, and on SIGTERM removes the socket and exits 0', async () => {
    const socket = join(dir, 'nested/run/imagegate.sock');
    const server = serve(socket);
    await waitForSocket(server, socket);
    assert.ok(statSync(socket).isSocket());
    assert.equal(statSync(socket).mode & 0o777, 0o660);

    const client = imageServiceClient(`unix://${socket}`);
    await call(client as unknown as grpc.Client, 'ImageFsInfo', {});
    client.close();

    await waitUntil(() => /metrics listening/.test(server.stderr()), 10_000, 'the metrics log line');
    const listen = /"listen":"([^"]+)"/.exec(server.stderr().split('\n').find((l) => l.includes('metrics listening'))!)![1];
    const metrics = await (await fetch(`http://${listen}/metrics`)).text();
    assert.match(metrics, /imagegate_cri_calls_total\{rpc="ImageFsInfo",code="OK"\} 1/);
    assert.match(metrics, /imagegate_cri_call_duration_seconds_bucket\{le="[^"]+",rpc="ImageFsInfo"\}/);

    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
    assert.equal(existsSync(socket), false);
  });

  it('uses the configured socket mode and exits 0 on SIGINT', async () => {
    const socket = join(dir, 'imagegate.sock');
    const server = serve(socket, '--socket-mode', '0600');
    await waitForSocket(server, socket);
    assert.equal(statSync(socket).mode & 0o777, 0o600);
    server.child.kill('SIGINT');
    assert.equal(await server.exited, 0);
    assert.equal(existsSync(socket), false);
  });

  it('removes a stale socket file and starts', async () => {
    const socket = join(dir, 'imagegate.sock');
    // A process that dies without closing its listening socket leaves the file behind.
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socket)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    assert.ok(statSync(socket).isSocket());
    const server = serve(socket);
    await waitUntil(() => /image service listening/.test(server.stderr()), 30_000, 'the server to listen');
    const client = imageServiceClient(`unix://${socket}`);
    await call(client as unknown as grpc.Client, 'ImageFsInfo', {});
    client.close();
  });

  it('refuses to start when a live server answers on the socket, and leaves it alone', async () => {
    const socket = join(dir, 'imagegate.sock');
    const live = net.createServer((c) => c.end());
    await new Promise<void>((resolve) => live.listen(socket, () => resolve()));
    try {
      const server = serve(socket);
      assert.equal(await server.exited, 1);
      assert.match(server.stderr(), /already answering on .*imagegate\.sock/);
      assert.ok(existsSync(socket));
    } finally {
      await new Promise((resolve) => live.close(resolve));
    }
  });

  it('exits 1 (and does not hang) when start-up fails after the backend connected, e.g. the metrics port is taken', async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', () => resolve()));
    try {
      const port = (busy.address() as net.AddressInfo).port;
      const r = startCli(['image-service', '--socket', join(dir, 'imagegate.sock'), '--metrics-listen', `127.0.0.1:${port}`]);
      running.push(r);
      const timer = setTimeout(() => r.child.kill('SIGKILL'), 20_000);
      assert.equal(await r.exited, 1, r.stderr());
      clearTimeout(timer);
      assert.match(r.stderr(), /EADDRINUSE/);
      assert.equal(existsSync(join(dir, 'imagegate.sock')), false);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });

  it('says at start-up when its backend cannot be reached, answers /readyz 503 (/healthz 200) until it can, then 200', async () => {
    const dockerSocket = join(dir, 'docker.sock');
    const socket = join(dir, 'imagegate.sock');
    const server = serve(socket, '--docker-host', `unix://${dockerSocket}`);
    await waitForSocket(server, socket);
    await waitUntil(() => /image backend unreachable/.test(server.stderr()), 10_000, 'the backend warning');
    const warning = JSON.parse(server.stderr().split('\n').find((l) => l.includes('image backend unreachable'))!);
    assert.equal(warning.level, 'warn');
    assert.equal(warning.backend, 'docker');
    assert.match(warning.error, /ENOENT/);
    const listen = /"listen":"([^"]+)"/.exec(server.stderr().split('\n').find((l) => l.includes('metrics listening'))!)![1];
    const probe = async (path: string) => (await fetch(`http://${listen}${path}`)).status;
    assert.equal(await probe('/readyz'), 503);
    assert.equal(await probe('/healthz'), 200);
    // Docker Engine appears at the configured path (a relay to the real one).
    const relay = net.createServer((client) => {
      const engine = net.connect(services.dockerSocket);
      client.pipe(engine).pipe(client);
      client.on('error', () => engine.destroy());
      engine.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(dockerSocket, () => resolve()));
    try {
      let status = 0;
      for (let i = 0; i < 40 && status !== 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        status = await probe('/readyz');
      }
      assert.equal(status, 200, '/readyz once the engine answers');
      await waitUntil(() => /image backend answers again/.test(server.stderr()), 5_000, 'the recovery line');
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      await new Promise((resolve) => relay.close(resolve));
    }
  });

  it('refuses to replace a path that is not a socket', async () => {
    const socket = join(dir, 'imagegate.sock');
    writeFileSync(socket, 'keep me');
    const server = serve(socket);
    assert.equal(await server.exited, 1);
    assert.match(server.stderr(), /not a socket/);
    assert.equal(readFileSync(socket, 'utf8'), 'keep me');
  });

  it('lets an in-flight pull finish on SIGTERM, then exits 0', async () => {
    const relay = await ThrottledRelay.start(services.registryOpen, { bytesPerSecond: 8 * 1024 * 1024 });
    const socket = join(dir, 'imagegate.sock');
    const server = serve(socket);
    try {
      await waitForSocket(server, socket);
      const client = imageServiceClient(`unix://${socket}`);
      await removeEverywhere(client, testImages.large);
      const pull = call<object, { imageRef: string }>(client as unknown as grpc.Client, 'PullImage', { image: { image: `${relay.host}/${testImages.large}` } });
      await waitUntil(() => relay.accepted >= 2, 10_000, 'the pull to reach the registry');
      server.child.kill('SIGTERM');
      const { imageRef } = await pull;
      assert.match(imageRef, /^sha256:/);
      assert.equal(await server.exited, 0);
      client.close();
    } finally {
      await relay.close();
    }
  });

  it('cancels in-flight calls when the grace period is over, then exits 0', async () => {
    const relay = await ThrottledRelay.start(services.registryOpen, { bytesPerSecond: 32 * 1024 });
    const socket = join(dir, 'imagegate.sock');
    const server = serve(socket, '--grace-period', '1s');
    try {
      await waitForSocket(server, socket);
      const client = imageServiceClient(`unix://${socket}`);
      await removeEverywhere(client, testImages.large);
      const pull = call(client as unknown as grpc.Client, 'PullImage', { image: { image: `${relay.host}/${testImages.large}` } });
      await waitUntil(() => relay.accepted >= 2, 10_000, 'the pull to reach the registry');
      server.child.kill('SIGTERM');
      await assert.rejects(pull);
      assert.equal(await server.exited, 0);
      assert.equal(existsSync(socket), false);
      client.close();
    } finally {
      await relay.close();
    }
  });
});

/** Removes every local copy of `name` (any registry host, relays included), so that pulling it must download. */
async function removeEverywhere(client: ReturnType<typeof imageServiceClient>, name: string): Promise<void> {
  const { images } = await call<object, { images: { id: string; repoTags: string[] }[] }>(client as unknown as grpc.Client, 'ListImages', {});
  for (const image of images) {
    if (image.repoTags.some((tag) => tag.endsWith(`/${name}`))) await call(client as unknown as grpc.Client, 'RemoveImage', { image: { image: image.id } });
  }
}
