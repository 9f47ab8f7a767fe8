import assert from 'node:assert/strict';
import http from 'node:http';
import { Readable } from 'node:stream';
import WebSocket from 'ws';
import { AwsStandIn } from '../../testing/aws';
import { send } from './support/fixture';
import { buildCli, ProxyProcess } from './support/proxy-process';
import { JwtCheckingUpstream } from './support/upstream';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
/**
 * The issue's bound: RSS under 100 MB (95.4 MiB) while 1 GiB streams through,
 * for the compiled CLI as the image ran it then, on Node 20 (tsx alone adds
 * ~9 MiB). Measured on loopback: ~77 MiB idle, peaks of 89–94 MiB (the buffer
 * collector keeps dead body buffers to a few MiB). Node 24's own idle RSS is
 * ~96 MiB, so there the absolute bound cannot hold and the growth bound (11–13
 * MiB measured), far below the body size, is what shows that nothing is
 * buffered whole. CI runs this file on Node 20 as well (`npm run test:smoke`).
 */
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
const GROWTH_LIMIT = NODE_MAJOR <= 20 ? 48 * MiB : 24 * MiB;
const RSS_LIMIT = NODE_MAJOR <= 20 ? 100_000_000 : Infinity;

/** Samples `proxy.rss()` every 20 ms while `work` runs; resolves with the work's result, the idle and the highest sample. */
async function watchRss<T>(proxy: ProxyProcess, work: () => Promise<T>): Promise<{ result: T; idleRss: number; maxRss: number }> {
  const idleRss = proxy.rss();
  let maxRss = idleRss;
  const timer = setInterval(() => (maxRss = Math.max(maxRss, proxy.rss())), 20);
  try {
    const result = await work();
    return { result, idleRss, maxRss: Math.max(maxRss, proxy.rss()) };
  } finally {
    clearInterval(timer);
  }
}

function assertBounded({ idleRss, maxRss }: { idleRss: number; maxRss: number }): void {
  const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
  console.log(`      proxy RSS ${mib(idleRss)} idle → ${mib(maxRss)} peak`);
  assert.ok(maxRss - idleRss < GROWTH_LIMIT, `proxy RSS grew from ${mib(idleRss)} to ${mib(maxRss)}`);
  assert.ok(maxRss < RSS_LIMIT, `proxy RSS reached ${mib(maxRss)}`);
}

/** `total` bytes from a lazy generator: the client never holds more than a chunk or two. */
function body(total: number): Readable {
  const block = Buffer.alloc(256 * 1024, 0x62);
  return Readable.from(
    (function* () {
      for (let sent = 0; sent < total; sent += block.length) yield total - sent >= block.length ? block : block.subarray(0, total - sent);
    })(),
  );
}

function upload(port: number, total: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/upload', headers: { 'content-length': String(total) } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (t: string) => (text += t));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.setTimeout(300_000, () => req.destroy(new Error('upload timed out')));
    req.on('error', reject);
    body(total).pipe(req);
  });
}

function download(port: number, total: number): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: `/download?bytes=${total}` }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.setTimeout(300_000, () => req.destroy(new Error('download timed out')));
    req.on('error', reject);
  });
}

describe('outbound: the real CLI as a process (compiled: streaming, WebSocket, probes; from source: readiness, drain)', function () {
  this.timeout(300_000);
  let aws: AwsStandIn;
  let upstream: JwtCheckingUpstream;
  let proxy: ProxyProcess;

  before(async () => {
    aws = await AwsStandIn.start();
    upstream = await JwtCheckingUpstream.start({ jwksUrl: aws.jwksUrl, issuer: aws.issuer });
    upstream.audiences = ['http://127.0.0.1'];
    buildCli();
    proxy = await ProxyProcess.start({ ...aws.env('eu-west-1'), UPSTREAM_HOST: upstream.host, UPSTREAM_SCHEME: 'http' }, [], 30_000, [], 'compiled');
  });
  after(async () => {
    await proxy?.stop('SIGKILL');
    await upstream?.close();
    await aws?.close();
  });

  it('streams a 1 GiB upload with bounded proxy RSS', async () => {
    await send(proxy.port);
    const watched = await watchRss(proxy, () => upload(proxy.port, GiB));
    assert.equal(watched.result.status, 200, watched.result.body);
    assert.deepEqual(JSON.parse(watched.result.body), { bytes: GiB });
    assertBounded(watched);
  });

  it('streams a 1 GiB download with bounded proxy RSS', async () => {
    const watched = await watchRss(proxy, () => download(proxy.port, GiB));
    assert.equal(watched.result.status, 200);
    assert.equal(watched.result.bytes, GiB);
    assertBounded(watched);
  });

  it('passes a WebSocket upgrade through: echo works and the handshake carried a valid JWT', async () => {
    upstream.reset();
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/socket`, { headers: { authorization: 'Basic Y2xpZW50' } });
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      const echoes: string[] = [];
      for (const text of ['hello', 'x'.repeat(100_000)]) {
        const reply = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
        ws.send(text);
        echoes.push(await reply);
      }
      assert.deepEqual(echoes, ['hello', 'x'.repeat(100_000)]);
      assert.equal(upstream.last().claims?.aud, 'http://127.0.0.1');
      assert.match(String(upstream.last().headers.authorization), /^Bearer ey/);
    } finally {
      ws.terminate();
    }
  });

  it('serves /healthz, /readyz and /metrics on the metrics listener', async () => {
    assert.ok(proxy.metricsPort);
    const get = async (path: string) => {
      const r = await fetch(`http://127.0.0.1:${proxy.metricsPort}${path}`);
      return { status: r.status, text: await r.text() };
    };
    assert.equal((await get('/healthz')).status, 200);
    assert.equal((await get('/readyz')).status, 200);
    const metrics = await get('/metrics');
    assert.match(metrics.text, /imagegate_outbound_requests_total\{status="200",source="upstream"\}/);
    assert.match(metrics.text, /imagegate_credentials_cache_hits_total/);
    assert.equal((await get('/other')).status, 404);
  });

  it('/readyz answers 503 while no token can be had, 200 once one can', async () => {
    aws.failRate(1, 'AccessDenied');
    const cold = await ProxyProcess.start({ ...aws.env('eu-west-1'), UPSTREAM_HOST: upstream.host, UPSTREAM_SCHEME: 'http', TOKEN_AUDIENCE: 'urn:readiness' });
    try {
      const readyz = async () => (await fetch(`http://127.0.0.1:${cold.metricsPort}/readyz`)).status;
      assert.equal(await readyz(), 503);
      aws.failRate(0);
      assert.equal(await readyz(), 200);
    } finally {
      aws.failRate(0);
      await cold.stop();
    }
  });

  it('SIGTERM lets in-flight requests finish, then exits 0', async () => {
    const draining = await ProxyProcess.start({ ...aws.env('eu-west-1'), UPSTREAM_HOST: upstream.host, UPSTREAM_SCHEME: 'http', SHUTDOWN_GRACE: '10s' });
    const inFlight = send(draining.port, { path: '/slow?ms=1500' });
    await new Promise((r) => setTimeout(r, 400));
    const exit = draining.stop('SIGTERM');
    const answer = await inFlight;
    assert.equal(answer.status, 200, answer.body);
    assert.equal(await exit, 0);
    await assert.rejects(send(draining.port, {}, 2000));
  });
});
