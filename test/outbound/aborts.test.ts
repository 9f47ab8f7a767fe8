import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { OutboundFixture, send, webSocketHandshake } from './support/fixture';

/** Polls `check` every 50 ms for up to `ms`. */
async function eventually(check: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end && !check(); ) await new Promise((r) => setTimeout(r, 50));
  assert.ok(check(), 'condition not met in time');
}

describe('outbound: connections that go away mid-stream', () => {
  const fx = new OutboundFixture();
  before(() => fx.start());
  after(() => fx.close());
  beforeEach(() => fx.reset());

  it('a client that drops mid-upload aborts the upstream request; the proxy keeps serving', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host });
    fx.upstream.audiences = ['http://127.0.0.1'];
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/upload', headers: { 'content-length': String(10 * 1024 * 1024) } });
    req.on('error', () => undefined);
    req.write(Buffer.alloc(256 * 1024));
    await eventually(() => fx.upstream.calls.length === 1);
    req.destroy();
    await eventually(() => fx.upstream.aborted === 1);
    assert.equal((await send(port)).status, 200);
  });

  it('an upstream that drops mid-response cuts the client connection (no silent truncation); the proxy keeps serving', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host });
    fx.upstream.audiences = ['http://127.0.0.1'];
    const req = http.get({ host: '127.0.0.1', port, path: '/cut' });
    const [res] = (await once(req, 'response')) as [http.IncomingMessage];
    assert.equal(res.statusCode, 200);
    let received = 0;
    res.on('data', (chunk: Buffer) => (received += chunk.length));
    const outcome = await new Promise<string>((resolve) => {
      res.once('end', () => resolve('end'));
      res.once('error', () => resolve('error'));
      res.once('aborted', () => resolve('aborted'));
    });
    assert.notEqual(outcome, 'end');
    assert.ok(received < 1024 * 1024);
    assert.equal((await send(port)).status, 200);
  });

  it('a WebSocket handshake without a token is refused with 502 and never reaches the upstream', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host, TOKEN_AUDIENCE: 'urn:ws-refused' });
    fx.aws.failNext('AccessDenied', 5);
    const res = await webSocketHandshake(port);
    res.resume();
    assert.equal(res.statusCode, 502);
    assert.equal(res.headers['x-outbound-proxy'], 'token');
    assert.equal(fx.upstream.calls.length, 0);
  });
});
