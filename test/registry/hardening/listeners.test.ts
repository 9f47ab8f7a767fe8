/**
 * Regression tests for issue 19, items 6 and 8: request timeouts and
 * connection caps on every listener of the facade, form parsing errors as a
 * 400 with an OCI error, and client aborts logged at debug without a stack.
 * Raw TCP clients against a facade in this process, and against a facade
 * process for its metrics listener.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestFacade, testConfig } from '../support/facade';
import { startFacadeProcess, type FacadeProcess } from '../../../testing/registry/facade-process';
import { raw } from '../support/raw';
import { upstreams } from '../../../testing/registry/upstreams';

const FORM = 'application/x-www-form-urlencoded';

describe('registry hardening: listener limits and request bodies (issue 19, items 6 and 8)', function () {
  this.timeout(60_000);
  const logs: string[] = [];
  let facade: Awaited<ReturnType<typeof startTestFacade>>;
  before(async () => {
    facade = await startTestFacade(testConfig({ limits: { requestTimeout: '2s', headersTimeout: '1s' } }), logs);
  });
  after(() => facade?.close(1000));

  it('cuts 50 connections trickling a POST /token body one byte every 300 ms at the request timeout (2 s), with 408', async () => {
    const started = Date.now();
    const conns = await Promise.all(Array.from({ length: 50 }, (_, i) => open(facade.url, `127.0.1.${i + 1}`)));
    const ended = conns.map((c) => {
      c.socket.write(`POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: ${FORM}\r\nContent-Length: 100\r\n\r\n`);
      const timer = setInterval(() => c.socket.writable && c.socket.write('a'), 300);
      return c.closed.then((text) => {
        clearInterval(timer);
        return { text, at: Date.now() - started };
      });
    });
    const results = await Promise.race([Promise.all(ended), new Promise<'open'>((r) => setTimeout(() => r('open'), 8000))]);
    for (const c of conns) c.socket.destroy();
    assert.notEqual(results, 'open', 'connections still open 8 s after a 2 s request timeout');
    for (const r of results as { text: string; at: number }[]) {
      assert.match(r.text, /^HTTP\/1\.1 408/, r.text);
      assert.ok(r.at < 5000, `closed after ${r.at} ms`);
    }
    const metric = await facade.metrics.getSingleMetricAsString('imagegate_registry_connections_refused_total');
    assert.match(metric, /listener="traffic",reason="timeout"} 50/, metric);
  });

  it('caps connections per client address (5) and in all (8), and counts what it refused', async () => {
    const capped = await startTestFacade(testConfig({ limits: { maxConnectionsPerClient: 5, maxConnections: 8 } }));
    try {
      await caps(capped);
    } finally {
      await capped.close(1000);
    }
  });

  async function caps(facade: Awaited<ReturnType<typeof startTestFacade>>): Promise<void> {
    const first = await Promise.all(Array.from({ length: 6 }, () => open(facade.url, '127.0.2.1')));
    await sleep(300);
    const cut = first.filter((c) => c.socket.destroyed || c.isClosed());
    assert.equal(cut.length, 1, 'the sixth connection from one address is closed');
    const second = await Promise.all(Array.from({ length: 5 }, () => open(facade.url, '127.0.2.2')));
    await sleep(300);
    assert.equal(second.filter((c) => c.isClosed()).length, 2, 'only 8 connections in all');
    const live = [...first, ...second].filter((c) => !c.isClosed());
    assert.equal(live.length, 8);
    live[0].socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(await live[0].closed, /^HTTP\/1\.1 200/);
    for (const c of [...first, ...second]) c.socket.destroy();
    await sleep(200);
    const metric = await facade.metrics.getSingleMetricAsString('imagegate_registry_connections_refused_total');
    assert.match(metric, /listener="traffic",reason="per_client"} 1/, metric);
    assert.match(metric, /listener="traffic",reason="total"} 2/, metric);
    assert.equal((await raw(facade.url, '/healthz')).status, 200, 'served again once they are closed');
  }

  it('answers a POST /token form with more than 20 fields with 400 and an OCI error, logging no error', async () => {
    const body = Array.from({ length: 25 }, (_, i) => `f${i}=v`).join('&');
    const before = logs.length;
    const res = await raw(facade.url, '/token', { method: 'POST', headers: { 'content-type': FORM }, body });
    assert.equal(res.status, 400);
    assert.equal(res.json.errors[0].code, 'SIZE_INVALID');
    assert.equal(res.json.errors[0].message, 'too many form fields');
    const lines = logs.slice(before).join('\n');
    assert.doesNotMatch(lines, /"level":"error"|stack/, lines);
  });

  it('logs a client that aborts its request body at debug, without a stack', async () => {
    const before = logs.length;
    const c = await open(facade.url, '127.0.3.1');
    c.socket.write(`POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: ${FORM}\r\nContent-Length: 1000\r\n\r\ngrant_type=pass`);
    await sleep(200);
    c.socket.destroy();
    await sleep(300);
    const lines = logs.slice(before);
    assert.ok(lines.some((l) => l.includes('client went away') && l.includes('"level":"debug"')), lines.join('\n'));
    assert.doesNotMatch(lines.join('\n'), /"level":"error"|stack/);
  });

  describe('the metrics listener of a facade process', () => {
    const dir = mkdtempSync(join(tmpdir(), 'imagegate-listeners-'));
    let proc: FacadeProcess;
    before(async () => {
      proc = await startFacadeProcess(dir, 'limits', {
        upstreams: [{ name: 'basic', prefix: 'basic', url: `http://${upstreams.basic}` }],
        limits: { requestTimeout: '2s', headersTimeout: '1s', maxConnectionsPerClient: 3 },
      });
    });
    after(() => proc?.stop());

    it('cuts a request whose headers trickle in at the header timeout, and caps connections per client', async () => {
      const started = Date.now();
      const slow = await open(proc.metricsUrl, '127.0.4.1');
      slow.socket.write('GET /metrics HTTP/1.1\r\n');
      const timer = setInterval(() => slow.socket.writable && slow.socket.write('X-A: b\r\n'), 200);
      const text = await Promise.race([slow.closed, sleep(6000).then(() => 'still open')]);
      clearInterval(timer);
      slow.socket.destroy();
      assert.match(text, /^HTTP\/1\.1 408/, text);
      assert.ok(Date.now() - started < 4000);
      const many = await Promise.all(Array.from({ length: 4 }, () => open(proc.metricsUrl, '127.0.4.2')));
      await sleep(300);
      assert.equal(many.filter((c) => c.isClosed()).length, 1);
      for (const c of many) c.socket.destroy();
      const metrics = await (await fetch(`${proc.metricsUrl}/metrics`)).text();
      assert.match(metrics, /imagegate_registry_connections_refused_total\{listener="metrics",reason="per_client"} 1/);
      assert.match(metrics, /imagegate_registry_connections_refused_total\{listener="metrics",reason="timeout"} 1/);
    });
  });
});

interface Conn {
  socket: net.Socket;
  /** Everything the server sent, once it closed the connection. */
  closed: Promise<string>;
  isClosed(): boolean;
}

/** A raw TCP connection to the listener at `url`, from `localAddress` (any address of 127/8). */
function open(url: string, localAddress: string): Promise<Conn> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port), localAddress });
    let text = '';
    let isClosed = false;
    socket.on('data', (c) => (text += String(c)));
    socket.on('error', () => undefined);
    const closed = new Promise<string>((done) => socket.once('close', () => {
      isClosed = true;
      done(text);
    }));
    socket.once('connect', () => resolve({ socket, closed, isClosed: () => isClosed }));
    socket.once('error', reject);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
