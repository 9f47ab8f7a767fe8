import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { echoed, OutboundFixture, send, webSocketHandshake } from './support/fixture';

/** A request whose body is written `chunks` times, `gapMs` apart (a slow client); resolves with the answer. */
function trickle(port: number, path: string, chunks: number, gapMs: number): Promise<{ status: number; body: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-length': String(chunks * 100) } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (t: string) => (body += t));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: Date.now() - started }));
    });
    req.setTimeout(20_000, () => req.destroy(new Error('no answer')));
    req.on('error', reject);
    let sent = 0;
    const next = () => {
      req.write(Buffer.alloc(100, 0x74));
      if (++sent === chunks) req.end();
      else setTimeout(next, gapMs);
    };
    next();
  });
}

describe('outbound: data path (slow uploads, pipelining, keep-alive, Expect, HEAD, refused and silent upgrades)', () => {
  const fx = new OutboundFixture();
  before(() => fx.start());
  after(() => fx.close());
  beforeEach(() => {
    fx.reset();
    fx.upstream.audiences = ['http://127.0.0.1'];
  });

  it('a slowly trickled upload longer than UPSTREAM_TIMEOUT passes: the timer starts once the body is sent', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host, UPSTREAM_TIMEOUT: '300ms' });
    const answer = await trickle(port, '/upload', 6, 200);
    assert.equal(answer.status, 200, answer.body);
    assert.deepEqual(JSON.parse(answer.body), { bytes: 600 });
    assert.ok(answer.ms >= 1000, `the upload took ${answer.ms} ms`);
  });

  it('after a trickled upload, an upstream slower than UPSTREAM_TIMEOUT → 504', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host, UPSTREAM_TIMEOUT: '300ms' });
    const answer = await trickle(port, '/slow?ms=3000', 4, 200);
    assert.equal(answer.status, 504);
    assert.equal(answer.body.trim(), 'upstream timeout');
    assert.ok(answer.ms >= 900 && answer.ms < 2500, `answered after ${answer.ms} ms`);
  });

  it('pipelined client requests are answered in order, each with its own token check', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host });
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    let text = '';
    socket.setEncoding('latin1').on('data', (t: string) => (text += t));
    socket.write('GET /echo?n=1 HTTP/1.1\r\nhost: proxy\r\n\r\nGET /echo?n=2 HTTP/1.1\r\nhost: proxy\r\n\r\nGET /echo?n=3 HTTP/1.1\r\nhost: proxy\r\nconnection: close\r\n\r\n');
    await once(socket, 'end');
    socket.destroy();
    const statuses = [...text.matchAll(/^HTTP\/1\.1 (\d+)/gm)].map((m) => m[1]);
    const paths = [...text.matchAll(/"path":"(\/echo\?n=\d)"/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '200', '200']);
    assert.deepEqual(paths, ['/echo?n=1', '/echo?n=2', '/echo?n=3']);
    assert.equal(fx.upstream.calls.filter((c) => c.claims).length, 3);
  });

  it('upstream connections are kept alive and reused', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host });
    const before = fx.upstream.connections;
    for (let i = 0; i < 20; i++) echoed(await send(port));
    assert.equal(fx.upstream.connections - before, 1, '20 sequential requests, one upstream connection');
  });

  it('Expect: 100-continue is answered by the proxy and not sent upstream', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host });
    const answer = await new Promise<{ status: number; body: string; continued: boolean }>((resolve, reject) => {
      let continued = false;
      const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path: '/upload', headers: { expect: '100-continue', 'content-length': '5000' } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (t: string) => (body += t));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, continued }));
      });
      req.on('continue', () => {
        continued = true;
        req.end(Buffer.alloc(5000));
      });
      req.on('error', reject);
    });
    assert.ok(answer.continued);
    assert.equal(answer.status, 200, answer.body);
    assert.deepEqual(JSON.parse(answer.body), { bytes: 5000 });
    assert.equal(fx.upstream.last().headers.expect, undefined);
  });

  it('HEAD is relayed with the upstream headers and no body', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host });
    const answer = await send(port, { method: 'HEAD', path: '/download?bytes=12345' });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-length'], '12345');
    assert.equal(answer.body, '');
    assert.equal((await send(port)).status, 200, 'the connection pool is still usable');
  });

  it('a refused WebSocket handshake (upstream 401) is relayed with its status, then the connection closes', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host });
    fx.upstream.audiences = ['urn:someone-else'];
    const res = await webSocketHandshake(port);
    res.resume();
    await once(res, 'end');
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers.connection, 'close');
    assert.equal(fx.upstream.calls.length, 1);
  });

  it('an upgrade the upstream does not answer within UPSTREAM_TIMEOUT → 504', async () => {
    const silent = net.createServer((socket) => socket.on('data', () => undefined));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    try {
      const { port } = await fx.proxy({ UPSTREAM_HOST: `127.0.0.1:${(silent.address() as net.AddressInfo).port}`, UPSTREAM_TIMEOUT: '300ms' });
      const req = http.get({ host: '127.0.0.1', port, path: '/socket', headers: { connection: 'Upgrade', upgrade: 'websocket' } });
      const [res] = (await once(req, 'response')) as [http.IncomingMessage];
      res.resume();
      assert.equal(res.statusCode, 504);
      assert.equal(res.headers['x-outbound-proxy'], 'timeout');
    } finally {
      silent.close();
    }
  });
  it('a response streamed in pieces reaches the client piece by piece (the corked relay never holds a piece back)', async () => {
    // The upstream sends its second piece only once the client has the first: a relay that held a piece until
    // more data or the end arrived would never finish.
    let gotFirst!: () => void;
    const clientHasFirst = new Promise<void>((resolve) => (gotFirst = resolve));
    const upstream = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first,');
      void clientHasFirst.then(() => res.end('second'));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
    try {
      const { port } = await fx.proxy({ UPSTREAM_HOST: `127.0.0.1:${(upstream.address() as net.AddressInfo).port}` });
      const body = await new Promise<string>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/stream', agent: false }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (t: string) => {
            text += t;
            if (text === 'first,') gotFirst();
          });
          res.on('end', () => resolve(text));
        });
        req.setTimeout(5000, () => req.destroy(new Error('the first piece never arrived')));
        req.on('error', reject);
      });
      assert.equal(body, 'first,second');
    } finally {
      upstream.close();
    }
  });
});
