import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readlinkSync, readSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { checkRelayInternals, probeRelayInternals } from '../../src/registry/http/node-internals';
import { upstreams } from '../../testing/registry/upstreams';
import { requireTcp } from '../../testing/services';

const ROOT = resolve(__dirname, '../..');

/**
 * The Node.js internals the zero-copy relay uses (src/registry/http/node-internals.ts),
 * checked directly on real sockets, so that a Node.js version that renamed or
 * changed them fails here, loudly, rather than the relay degrading in silence;
 * then the module's own start-up check, and the facade's fallback to
 * streaming when that check fails.
 */
describe('registry facade: the Node.js internals of the zero-copy relay', function () {
  this.timeout(60_000);

  it(`a TCP socket's _handle.fd is its own descriptor (Node ${process.version})`, async () => {
    await withPair(async (client, server) => {
      for (const socket of [client, server]) {
        const fd = (socket as unknown as { _handle: { fd: unknown } })._handle.fd;
        assert.equal(typeof fd, 'number', '_handle.fd is a number');
        const inode = readlinkSync(`/proc/self/fd/${fd as number}`);
        assert.match(inode, /^socket:\[\d+\]$/, `fd ${String(fd)} is a socket`);
      }
      // The descriptors are the two ends of this connection: bytes written by the peer are read from it.
      server.write('ping');
      const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
      client.pause();
      (client as unknown as { _handle: { readStop(): number } })._handle.readStop();
      assert.equal(await readFd(fd, 4), 'ping');
    });
  });

  it('_handle.readStop() with reading = true stops Node reading, even through resume(); the bytes stay in the kernel', async () => {
    await withPair(async (client, server) => {
      const handle = (client as unknown as { _handle: { readStop: unknown; reading: unknown; fd: number } })._handle;
      assert.equal(typeof handle.readStop, 'function');
      assert.equal(typeof handle.reading, 'boolean');
      let events = 0;
      client.on('data', () => events++);
      await sleep(20);
      assert.equal(handle.reading, true, 'a flowing socket is reading');
      (handle.readStop as () => number).call(handle);
      handle.reading = true;
      client.resume();
      server.write(Buffer.alloc(32 * 1024, 'x'));
      const read = await readFd(handle.fd, 32 * 1024);
      assert.equal(read.length, 32 * 1024);
      assert.equal(events, 0, 'no data event after readStop()');
      assert.equal(client.bytesRead, 0, 'Node counted no byte');
    });
  });

  it("a server socket's _httpMessage is the response the handler is writing", async () => {
    const seen: boolean[] = [];
    const server = http.createServer((req, res) => {
      seen.push((req.socket as unknown as { _httpMessage?: unknown })._httpMessage === res);
      res.end('ok');
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      for (let i = 0; i < 2; i++) {
        await new Promise<void>((done, fail) => http.get({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, agent }, (res) => res.resume().once('end', done)).once('error', fail));
      }
      agent.destroy();
      assert.deepEqual(seen, [true, true], 'for the first and the next request on a kept-alive connection');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it("the module's start-up check passes on this Node.js (once per process)", async () => {
    assert.equal(await probeRelayInternals(), undefined);
    assert.equal(await checkRelayInternals(), undefined);
    assert.equal(checkRelayInternals(), checkRelayInternals(), 'one check per process');
  });

  it('a facade on a Node.js whose readStop() changed says so in one line and streams blobs instead', async function () {
    this.timeout(120_000);
    await requireTcp('basic upstream', upstreams.basic);
    const dir = mkdtempSync(join(tmpdir(), 'internals-'));
    try {
      const config = join(dir, 'registry.yml');
      writeFileSync(config, stringify({
        registry: {
          listen: '127.0.0.1:0',
          metricsListen: '127.0.0.1:0',
          upstreams: [{ name: 'basic', prefix: 'basic', url: `http://${upstreams.basic}`, auth: { basic: { username: upstreams.user, password: { value: upstreams.password } } } }],
          auth: { chain: [{ static: { users: [{ username: 'nobody', password: 'unused-password' }] } }], anonymousPull: ['basic/test/large'] },
        },
        log: { level: 'info' },
      }));
      const child = spawn(process.execPath, ['--require', join(__dirname, 'fixtures/break-read-stop.cjs'), '--require', 'tsx/cjs', 'bin/main.ts', 'registry', '--config', config], {
        cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, IMAGEGATE_LOG_LEVEL: 'info' },
      });
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => (stderr += String(c)));
      try {
        const listening = await waitForLine(() => stderr, 'registry facade listening', 30_000);
        const warnings = stderr.split('\n').filter((l) => l.includes('zero-copy blob relay unavailable'));
        assert.equal(warnings.length, 1, stderr);
        assert.match(JSON.parse(warnings[0]).reason, /readStop/);
        const manifest = JSON.parse((await get(`${listening.url}/v2/basic/test/large/manifests/1`, { accept: 'application/vnd.docker.distribution.manifest.v2+json' })).toString()) as { layers: { digest: string; size: number }[] };
        const layer = manifest.layers.reduce((a, b) => (b.size > a.size ? b : a));
        const blob = await get(`${listening.url}/v2/basic/test/large/blobs/${layer.digest}`);
        assert.equal(`sha256:${createHash('sha256').update(blob).digest('hex')}`, layer.digest);
        const metrics = (await get(`http://${listening.metrics}/metrics`)).toString();
        assert.match(metrics, /bytes_streamed_total\{upstream="basic",kind="blob",relay="stream"\} [1-9]\d*/);
        assert.doesNotMatch(metrics, /relay="splice"\} [1-9]/);
      } finally {
        child.kill('SIGTERM');
        await new Promise((done) => (child.exitCode !== null ? done(null) : child.once('exit', done)));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A connected loopback TCP pair (client side, server side), closed after `use`. */
async function withPair(use: (client: net.Socket, server: net.Socket) => Promise<void>): Promise<void> {
  const accepted: net.Socket[] = [];
  const server = net.createServer((s) => accepted.push(s));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
  try {
    await new Promise<void>((done, fail) => client.once('connect', done).once('error', fail));
    while (accepted.length === 0) await sleep(5);
    await use(client, accepted[0]);
  } finally {
    client.destroy();
    accepted.forEach((s) => s.destroy());
    server.close();
  }
}

/** Reads `length` bytes straight from a non-blocking descriptor, polling (at most 5 s). */
async function readFd(fd: number, length: number): Promise<string> {
  const buffer = Buffer.alloc(length);
  let got = 0;
  for (const until = Date.now() + 5000; got < length && Date.now() < until; ) {
    try {
      got += readSync(fd, buffer, got, length - got, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      await sleep(10);
    }
  }
  return buffer.subarray(0, got).toString();
}

async function waitForLine(text: () => string, marker: string, ms: number): Promise<{ url: string; metrics: string }> {
  for (const until = Date.now() + ms; Date.now() < until; await sleep(50)) {
    const line = text().split('\n').find((l) => l.includes(marker));
    if (line) return JSON.parse(line) as { url: string; metrics: string };
  }
  throw new Error(`no "${marker}" line: ${text()}`);
}

function get(url: string, headers: Record<string, string> = {}): Promise<Buffer> {
  return new Promise((done, fail) => {
    http.get(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c)).once('end', () => (res.statusCode === 200 ? done(Buffer.concat(chunks)) : fail(new Error(`${url}: ${res.statusCode}`)))).once('error', fail);
    }).once('error', fail);
  });
}
