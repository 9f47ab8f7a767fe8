import assert from 'node:assert/strict';
import net from 'node:net';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/log/logger';
import { startOutboundProxy } from '../../src/outbound/server';
import { loadSettings } from '../../src/outbound/settings';
import { createStsTokenSource } from '../../src/outbound/tokens';
import { standInCredentials } from '../../testing/aws';
import { echoed, OutboundFixture, send } from './support/fixture';

/** Polls `check` every 50 ms for up to `ms`. */
async function eventually(check: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(check(), 'condition not met in time');
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('outbound: error paths', () => {
  const fx = new OutboundFixture();
  before(() => fx.start());
  after(() => fx.close());
  beforeEach(() => fx.reset());

  it('no token → 502 "token unavailable" and no upstream call', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host });
    fx.aws.failNext('AccessDenied', 5);
    const answer = await send(port, { method: 'POST', path: '/upload', body: 'payload' });
    assert.equal(answer.status, 502);
    assert.equal(answer.body.trim(), 'token unavailable');
    assert.equal(fx.upstream.calls.length, 0);
    assert.ok(fx.stsCalls() >= 1);
  });

  it('outbound identity federation disabled → 502 and no upstream call', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host, TOKEN_AUDIENCE: 'urn:disabled' });
    fx.aws.failNext('OutboundWebIdentityFederationDisabledException', 5);
    const answer = await send(port);
    assert.equal(answer.status, 502);
    assert.equal(fx.upstream.calls.length, 0);
  });

  it('STS failing while a valid token is cached → still 200; once it expires → 502', async function () {
    this.timeout(30_000);
    // The stand-in's clock runs 54 s behind: a 60 s token has 6 s left, so the cache wants it refreshed after ~3 s.
    fx.clockBehindMs = 54_000;
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host, TOKEN_AUDIENCE: 'urn:stale', TOKEN_DURATION: '60s', TOKEN_REFRESH_SKEW: '50s' });
    fx.upstream.audiences = ['urn:stale'];
    const first = echoed(await send(port));
    fx.aws.failRate(1, 'ServiceUnavailable');
    await new Promise((r) => setTimeout(r, 3500));
    const callsBefore = fx.stsCalls();
    const second = echoed(await send(port));
    assert.equal(second.claims.jti, first.claims.jti, 'the cached token was served');
    await eventually(() => fx.stsCalls() > callsBefore);

    await eventually(() => Date.now() / 1000 > (first.claims.exp as number) + 0.2, 10_000);
    fx.upstream.reset();
    const third = await send(port);
    assert.equal(third.status, 502);
    assert.equal(third.body.trim(), 'token unavailable');
    assert.equal(fx.upstream.calls.length, 0, 'an expired token is never sent');
  });

  it('STS throttling and no token: 20 sequential requests make one mint (its SDK retries included), not 60 calls', async function () {
    this.timeout(60_000);
    // As the CLI runs: the SDK's default three attempts per mint (the fixture's proxies use one).
    const loaded = loadSettings([], { LISTEN_ADDR: '127.0.0.1:0', METRICS_ENABLED: 'false', UPSTREAM_SCHEME: 'http', UPSTREAM_HOST: fx.upstream.host, TOKEN_AUDIENCE: 'urn:throttled' });
    if (!('settings' in loaded)) throw new Error('expected settings');
    const registry = new Registry();
    const tokens = createStsTokenSource(loaded.settings, { registry, aws: { region: 'eu-west-1', endpoints: { sts: fx.aws.url }, credentials: standInCredentials } });
    const proxy = await startOutboundProxy(loaded.settings, { tokens: tokens.get, metricsRegistry: registry, logger: silentLogger });
    try {
      fx.aws.failRate(1, 'Throttling');
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++) statuses.push((await send(proxy.address.port)).status);
      assert.deepEqual([...new Set(statuses)], [502]);
      assert.equal(fx.upstream.calls.length, 0);
      assert.ok(fx.stsCalls() <= 3, `${fx.stsCalls()} GetWebIdentityToken calls`);
      assert.match(await registry.metrics(), /imagegate_credentials_backoff_held_total\{provider="sts-jwt"\} 19/);
    } finally {
      fx.aws.failRate(0);
      await proxy.close(1000);
      await tokens.close();
    }
  });

  it('upstream slower than UPSTREAM_TIMEOUT → 504', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host, UPSTREAM_TIMEOUT: '300ms' });
    fx.upstream.audiences = ['http://127.0.0.1'];
    const answer = await send(port, { path: '/slow?ms=3000' });
    assert.equal(answer.status, 504);
    assert.equal(answer.body.trim(), 'upstream timeout');
  });

  it('upstream refusing connections → 502', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: `127.0.0.1:${await closedPort()}` });
    const answer = await send(port);
    assert.equal(answer.status, 502);
    assert.equal(answer.body.trim(), 'upstream unavailable');
  });

  it('header-routed without the routing header → 400, no STS and no upstream call', async () => {
    const { port } = await fx.proxy({ UPSTREAM_ALLOW: '127.0.0.1:*' });
    const answer = await send(port);
    assert.equal(answer.status, 400);
    assert.equal(fx.stsCalls(), 0);
    assert.equal(fx.upstream.calls.length, 0);
  });

  for (const bad of ['127.0.0.1:1/path', 'user@127.0.0.1', 'http://127.0.0.1', '127.0.0.1:99999']) {
    it(`a routing header that is not host[:port] (${bad}) → 400`, async () => {
      const { port } = await fx.proxy({ UPSTREAM_ALLOW: '127.0.0.1:*' });
      const answer = await send(port, { headers: { 'x-upstream-host': bad } });
      assert.equal(answer.status, 400);
      assert.equal(fx.upstream.calls.length, 0);
    });
  }

  it('a host outside the allowlist → 403, no STS and no upstream call', async () => {
    const { port } = await fx.proxy({ UPSTREAM_ALLOW: 'api.example.com,localhost:*' });
    const answer = await send(port, { headers: { 'x-upstream-host': fx.upstream.host } });
    assert.equal(answer.status, 403);
    assert.equal(answer.body.trim(), 'upstream host not allowed');
    assert.equal(fx.stsCalls(), 0);
    assert.equal(fx.upstream.calls.length, 0);
  });

  it('metrics count requests by status and token results', async () => {
    const started = await fx.proxy({ UPSTREAM_ALLOW: '127.0.0.1:*' });
    fx.upstream.audiences = ['http://127.0.0.1'];
    await send(started.port, { headers: { 'x-upstream-host': fx.upstream.host } });
    await send(started.port);
    const text = await started.registry.metrics();
    assert.match(text, /imagegate_outbound_requests_total\{status="200",source="upstream"\} 1/);
    assert.match(text, /imagegate_outbound_requests_total\{status="400",source="proxy"\} 1/);
    assert.match(text, /imagegate_outbound_token_results_total\{result="ok"\} 1/);
    assert.match(text, /imagegate_outbound_upstream_duration_seconds_count\{outcome="ok"\} 1/);
  });
});
