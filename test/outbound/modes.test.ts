import assert from 'node:assert/strict';
import http from 'node:http';
import { decodeProtectedHeader } from 'jose';
import { echoed, OutboundFixture, send } from './support/fixture';

describe('outbound: forwarding with STS-minted JWTs (AWS stand-in, JWT-checking upstream)', () => {
  const fx = new OutboundFixture();
  before(() => fx.start());
  after(() => fx.close());
  beforeEach(() => fx.reset());

  it('pinned mode: the upstream gets a valid JWT for scheme://host and never the client Authorization', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host });
    fx.upstream.audiences = ['http://127.0.0.1'];
    const answer = await send(port, { path: '/echo?q=1', headers: { authorization: 'Basic Y2xpZW50OnNlY3JldA==' } });
    const seen = echoed(answer);
    assert.equal(seen.claims.aud, 'http://127.0.0.1');
    assert.equal(seen.claims.iss, fx.aws.issuer);
    assert.equal(seen.path, '/echo?q=1');
    assert.match(String(seen.headers.authorization), /^Bearer ey/);
    assert.ok(!String(seen.headers.authorization).includes('Y2xpZW50OnNlY3JldA'));
    assert.equal(seen.headers.host, fx.upstream.host);
  });

  it('header-routed mode: the routing header is removed and the audience follows the header', async () => {
    const { port } = await fx.proxy({ UPSTREAM_ALLOW: '127.0.0.1:*,localhost:*' });
    fx.upstream.audiences = ['http://localhost'];
    const seen = echoed(await send(port, { headers: { 'x-upstream-host': `localhost:${fx.upstream.port}` } }));
    assert.equal(seen.claims.aud, 'http://localhost');
    assert.equal(seen.headers['x-upstream-host'], undefined);
    assert.equal(seen.headers.host, `localhost:${fx.upstream.port}`);
  });

  it('dynamic audience: each upstream host gets its own token, one STS call per audience', async () => {
    const { port } = await fx.proxy({ UPSTREAM_ALLOW: '127.0.0.1:*,localhost:*' });
    fx.upstream.audiences = ['http://localhost', 'http://127.0.0.1'];
    const a = echoed(await send(port, { headers: { 'x-upstream-host': `localhost:${fx.upstream.port}` } }));
    const b = echoed(await send(port, { headers: { 'x-upstream-host': fx.upstream.host } }));
    const c = echoed(await send(port, { headers: { 'x-upstream-host': fx.upstream.host } }));
    assert.equal(a.claims.aud, 'http://localhost');
    assert.equal(b.claims.aud, 'http://127.0.0.1');
    assert.equal(c.claims.jti, b.claims.jti, 'the second request reuses the cached token');
    assert.equal(fx.stsCalls(), 2);
  });

  it('HOST_HEADER=Host routes by the Host header', async () => {
    const { port } = await fx.proxy({ HOST_HEADER: 'Host', UPSTREAM_ALLOW: 'localhost:*' });
    fx.upstream.audiences = ['http://localhost'];
    const seen = echoed(await send(port, { headers: { host: `localhost:${fx.upstream.port}` } }));
    assert.equal(seen.claims.aud, 'http://localhost');
    assert.equal(seen.headers.host, `localhost:${fx.upstream.port}`);
  });

  it('TOKEN_AUDIENCE pins the audiences; TOKEN_AUDIENCE_MAP maps a host to its own', async () => {
    const fixed = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host, TOKEN_AUDIENCE: 'urn:svc:a,urn:svc:b' });
    fx.upstream.audiences = ['urn:svc:a'];
    assert.deepEqual(echoed(await send(fixed.port)).claims.aud, ['urn:svc:a', 'urn:svc:b']);
    const mapped = await fx.proxy({ UPSTREAM_ALLOW: '127.0.0.1:*,localhost:*', TOKEN_AUDIENCE_MAP: 'localhost=urn:mapped' });
    fx.upstream.audiences = ['urn:mapped', 'http://127.0.0.1'];
    assert.equal(echoed(await send(mapped.port, { headers: { 'x-upstream-host': `localhost:${fx.upstream.port}` } })).claims.aud, 'urn:mapped');
    assert.equal(echoed(await send(mapped.port, { headers: { 'x-upstream-host': fx.upstream.host } })).claims.aud, 'http://127.0.0.1');
  });

  it('ES384 tokens with STS request tags', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host, TOKEN_SIGNING_ALGORITHM: 'es384', TOKEN_TAGS: 'team=payments,env=test' });
    fx.upstream.audiences = ['http://127.0.0.1'];
    const seen = echoed(await send(port));
    const jwt = String(seen.headers.authorization).slice('Bearer '.length);
    assert.equal(decodeProtectedHeader(jwt).alg, 'ES384');
    const aws = seen.claims['https://sts.amazonaws.com/'] as { request_tags?: Record<string, string> };
    assert.deepEqual(aws.request_tags, { team: 'payments', env: 'test' });
  });

  it('a configurable header and scheme: X-Serverless-Authorization, client Authorization passed on', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host, AUTH_HEADER: 'X-Serverless-Authorization' });
    fx.upstream.audiences = ['http://127.0.0.1'];
    fx.upstream.authHeader = 'x-serverless-authorization';
    const seen = echoed(await send(port, { headers: { authorization: 'Bearer app-token', 'x-serverless-authorization': 'forged' } }));
    assert.equal(seen.headers.authorization, 'Bearer app-token');
    assert.match(String(seen.headers['x-serverless-authorization']), /^Bearer ey/);
  });

  it('hop-by-hop headers are stripped and X-Forwarded-For is appended', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host });
    fx.upstream.audiences = ['http://127.0.0.1'];
    const seen = echoed(
      await send(port, {
        headers: {
          connection: 'keep-alive, x-hop',
          'x-hop': 'drop me',
          'keep-alive': 'timeout=5',
          'proxy-authorization': 'Basic cHJveHk6c2VjcmV0',
          te: 'trailers',
          'x-forwarded-for': '10.1.2.3',
          'x-end-to-end': 'kept',
        },
      }),
    );
    for (const name of ['x-hop', 'keep-alive', 'proxy-authorization', 'te']) assert.equal(seen.headers[name], undefined, name);
    assert.equal(seen.headers['x-forwarded-for'], '10.1.2.3, 127.0.0.1');
    assert.equal(seen.headers['x-end-to-end'], 'kept');
  });

  it('100 concurrent requests for one audience make one STS call', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host, TOKEN_AUDIENCE: 'urn:concurrent' });
    fx.upstream.audiences = ['urn:concurrent'];
    const agent = new http.Agent({ keepAlive: true, maxSockets: 100 });
    const answers = await Promise.all(Array.from({ length: 100 }, () => send(port, { agent })));
    agent.destroy();
    assert.deepEqual([...new Set(answers.map((a) => a.status))], [200]);
    assert.equal(fx.stsCalls(), 1);
    assert.equal(fx.upstream.calls.filter((c) => c.claims).length, 100);
  });

  it('a chunked request body is streamed on, whatever the method', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host });
    fx.upstream.audiences = ['http://127.0.0.1'];
    for (const method of ['POST', 'GET']) {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method, path: '/upload', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (t: string) => (body += t));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.write('a'.repeat(1000));
        req.end('b'.repeat(500));
      });
      assert.equal(answer.status, 200, `${method}: ${answer.body}`);
      assert.deepEqual(JSON.parse(answer.body), { bytes: 1500 }, method);
    }
  });

  it('request bodies and methods pass through', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host });
    fx.upstream.audiences = ['http://127.0.0.1'];
    const answer = await send(port, { method: 'PUT', path: '/upload', body: 'x'.repeat(300_000) });
    assert.equal(answer.status, 200, answer.body);
    assert.deepEqual(JSON.parse(answer.body), { bytes: 300_000 });
    assert.equal(fx.upstream.last().method, 'PUT');
  });
});
