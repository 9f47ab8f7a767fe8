/**
 * The image service's bounds on what a client can make it hold: 1 MiB
 * requests, 16 calls per connection, 8 connections, 16 pulls at once
 * (src/cri/server.ts, ImageService). The memory test floods the real image
 * service process (Docker backend) with the largest requests it accepts, all
 * stuck pulling from a registry that never answers, and measures its RSS.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { DockerBackend } from '../../src/cri/docker/backend';
import { parseDockerHost } from '../../src/cri/docker/engine';
import { criProto } from '../../src/cri/proto';
import { MAX_CONNECTIONS, MAX_RECEIVE, MAX_STREAMS_PER_CONNECTION } from '../../src/cri/server';
import { TestImagegate } from '../support/cri-server';
import { GoCriClient } from '../../testing/go-cri-client';
import { requireUnixSocket, services, testImages } from '../../testing/services';
import { rejectsWith } from './conformance';
import { ScriptedBackend } from './fixtures/scripted-backend';

const MiB = 1024 ** 2;
/**
 * RSS growth allowed under the flood. Measured on the compiled CLI: ~89 MiB idle, peaks of 315–324 MiB, inside
 * the DaemonSet's 384 Mi limit; before the bounds the same flood grew the process by ~357 MiB and 8 requests of
 * 16 MB by ~420 MiB.
 */
const GROWTH_LIMIT = 290 * MiB;

/** Annotations adding up to about `bytes` on the wire, in entries of `entry` bytes (many entries decode to more heap). */
function annotations(bytes: number, entry = 1000): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i * (entry + 16) < bytes; i++) out[`key-${i}`] = 'v'.repeat(entry);
  return out;
}

const Client = criProto().runtime.v1.ImageService;
type Pull = (client: InstanceType<typeof Client>, request: object, timeoutMs: number) => Promise<string>;
/** One PullImage; resolves with the status name it ended with. */
const pull: Pull = (client, request, timeoutMs) =>
  new Promise((resolve) =>
    client.pullImage(request, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null) => resolve(err ? grpc.status[err.code] : 'OK')),
  );

describe('image service bounds (request size, calls, connections, pulls)', function () {
  this.timeout(120_000);

  describe('in process', () => {
    let gate: TestImagegate;
    let release: () => void;
    before(async () => {
      const hung = new Promise<void>((resolve) => (release = resolve));
      gate = await TestImagegate.start(new ScriptedBackend(async () => (await hung, `sha256:${'a'.repeat(64)}`)), { maxConcurrentPulls: 2 });
    });
    after(async () => {
      release();
      await gate.stop();
    });

    it('refuses a request over 1 MiB with RESOURCE_EXHAUSTED and goes on serving', async () => {
      const details = await rejectsWith(gate.call('ImageStatus', { image: { image: 'busybox', annotations: annotations(MAX_RECEIVE + 1000) } }), grpc.status.RESOURCE_EXHAUSTED);
      assert.match(details, /larger than max/);
      await gate.call('ImageFsInfo', {});
    });

    it('refuses pulls beyond maxConcurrentPulls at once, and takes them again when one ends', async () => {
      const first = gate.call('PullImage', { image: { image: 'r.example/a:1' } });
      const second = gate.call('PullImage', { image: { image: 'r.example/b:1' } });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const details = await rejectsWith(gate.call('PullImage', { image: { image: 'r.example/c:1' } }), grpc.status.RESOURCE_EXHAUSTED);
      assert.match(details, /2 pulls already in flight/);
      release();
      await Promise.all([first, second]);
      assert.equal((await gate.call('PullImage', { image: { image: 'r.example/c:1' } })).imageRef, `sha256:${'a'.repeat(64)}`);
    });
  });

  it('pulls with kubelet’s largest request: 2 × 256 KiB of pod annotations and a thousand labels', async () => {
    await requireUnixSocket('Docker Engine', services.dockerSocket);
    const gate = await TestImagegate.start(new DockerBackend({ endpoint: parseDockerHost(`unix://${services.dockerSocket}`)!, pullProgressTimeoutMs: 60_000 }));
    try {
      const podAnnotations = annotations(256 * 1024);
      const labels = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`example.com/label-${i}`, `value-${i}`]));
      const image = `${services.registryOpen}/${testImages.busybox}`;
      const request = { image: { image, annotations: podAnnotations }, sandboxConfig: { metadata: { name: 'p', namespace: 'n', uid: 'u' }, labels, annotations: podAnnotations } };
      assert.match((await gate.call('PullImage', request)).imageRef, /^sha256:/);
    } finally {
      await gate.stop();
    }
  });

  describe('the image service process under a flood of maximal requests', () => {
    let dir: string;
    let child: ChildProcess;
    let hang: net.Server;
    let port: number;
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024;

    before(async () => {
      await requireUnixSocket('Docker Engine', services.dockerSocket);
      hang = net.createServer(() => undefined).listen(0, '127.0.0.1');
      await new Promise((resolve) => hang.once('listening', resolve));
      port = (hang.address() as net.AddressInfo).port;
      dir = mkdtempSync(join(tmpdir(), 'imagegate-limits-'));
      const socket = join(dir, 'imagegate.sock');
      child = spawn(process.execPath, ['--import', 'tsx', 'bin/main.ts', 'image-service', '--socket', socket, '--docker-host', `unix://${services.dockerSocket}`,
        '--metrics-listen', '127.0.0.1:0', '--log-level', 'error'], { cwd: join(__dirname, '../..'), stdio: 'inherit' });
      for (let i = 0; i < 300 && !existsSync(socket); i++) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.ok(existsSync(socket), 'the image service came up');
    });
    after(async () => {
      child?.kill('SIGKILL');
      hang?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('stays within its bound while 8 connections × 16 calls of 1 MiB pull from a registry that never answers, and kubelet’s connection is served throughout', async () => {
      const socket = join(dir, 'imagegate.sock');
      // kubelet (1.30's client) holds its connection from before the flood, as it does from start-up.
      const kubelet = await GoCriClient.start(socket, 'path');
      await kubelet.call('ImageFsInfo', {});
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const idle = rss();
      let peak = idle;
      const sampler = setInterval(() => (peak = Math.max(peak, rss())), 20);
      const clients = Array.from({ length: MAX_CONNECTIONS + 2 }, (_, i) =>
        new Client(`unix://${socket}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': -1, 'grpc.primary_user_agent': `flood-${i}` }),
      );
      try {
        const big = annotations(MAX_RECEIVE - 20_000);
        const oversized = annotations(16 * MiB, 20_000);
        const flood = Promise.all([
          // The adversarial run's 8 requests of 16 MB, then a full flood of the largest requests accepted.
          ...clients.slice(0, 8).map((c, i) => pull(c, { image: { image: `127.0.0.1:${port}/big/x:${i}`, annotations: oversized } }, 20_000)),
          ...clients.flatMap((c, i) =>
            Array.from({ length: MAX_STREAMS_PER_CONNECTION }, (_, s) => pull(c, { image: { image: `127.0.0.1:${port}/flood/x:${i}-${s}`, annotations: big } }, 8_000)),
          ),
        ]);
        await new Promise((resolve) => setTimeout(resolve, 2000));
        await kubelet.call('ImageFsInfo', {}, { timeoutMs: 10_000 });
        const outcomes = await flood;
        const counts = outcomes.reduce<Record<string, number>>((n, o) => ({ ...n, [o]: (n[o] ?? 0) + 1 }), {});
        console.log(`      RSS ${(idle / MiB).toFixed(0)} MiB idle → ${(peak / MiB).toFixed(0)} MiB peak; outcomes ${JSON.stringify(counts)}`);
        assert.ok(peak - idle < GROWTH_LIMIT, `RSS grew by ${((peak - idle) / MiB).toFixed(0)} MiB`);
        assert.ok((counts.RESOURCE_EXHAUSTED ?? 0) >= 8, 'the 16 MB requests and the pulls past 16 were refused');
        assert.ok(!counts.OK, 'nothing pulled from a registry that never answers');
        await kubelet.call('ImageFsInfo', {}, { timeoutMs: 10_000 });
      } finally {
        clearInterval(sampler);
        for (const c of clients) c.close();
        await kubelet.close();
      }
    });
  });
});
