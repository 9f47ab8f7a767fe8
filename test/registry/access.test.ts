import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, decodeJwt } from 'jose';
import type { RunningRegistry } from '../../src/registry/server';
import { basic, startTestFacade, testConfig, tokenFor, users } from './support/facade';
import { raw } from './support/raw';

const MANIFEST = '/v2/basic/test/busybox/manifests/1';

describe('registry facade: client authentication, authorization and the token flow', function () {
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-registry-'));
  const keyFile = join(dir, 'token.pem');
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(keyFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const logs: string[] = [];
  let facade: RunningRegistry;

  before(async () => {
    facade = await startTestFacade(testConfig({ token: { keyFile, ttl: '5m' } }), logs);
  });
  after(() => facade.close(1000));

  const sign = (claims: Record<string, unknown>, opts: { exp?: number; aud?: string; iss?: string; key?: typeof pair.privateKey } = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ access: [{ type: 'repository', name: 'basic/test/busybox', actions: ['pull'] }], ...claims })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer(opts.iss ?? 'imagegate-registry')
      .setAudience(opts.aud ?? 'imagegate-registry')
      .setSubject('alice')
      .setIssuedAt(now - 600)
      .setExpirationTime(opts.exp ?? now + 300)
      .sign(opts.key ?? pair.privateKey);
  };
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  it('challenges an anonymous client with a Bearer realm on the facade, the service and the scope', async () => {
    const res = await raw(facade.url, MANIFEST);
    assert.equal(res.status, 401);
    assert.equal(res.json.errors[0].code, 'UNAUTHORIZED');
    assert.equal(
      res.headers['www-authenticate'],
      `Bearer realm="${facade.url}/token",service="imagegate-registry",scope="repository:basic/test/busybox:pull"`,
    );
  });

  it('issues a token with token, access_token, expires_in and issued_at for good Basic credentials', async () => {
    const res = await raw(facade.url, '/token?service=imagegate-registry&scope=repository:basic/test/busybox:pull', { headers: { authorization: basic(users.alice) } });
    assert.equal(res.status, 200);
    assert.equal(res.json.token, res.json.access_token);
    assert.equal(res.json.expires_in, 300);
    assert.ok(Math.abs(Date.parse(res.json.issued_at) - Date.now()) < 10_000);
    assert.equal((await raw(facade.url, MANIFEST, { headers: bearer(res.json.token) })).status, 200);
  });

  it('grants only the intersection of the requested and the allowed scope', async () => {
    const scope = ['repository:basic/test/busybox:pull,push', 'repository:token/test/busybox:pull', 'repository:basic/test/large:pull'];
    const q = scope.map((s) => `scope=${encodeURIComponent(s)}`).join('&');
    const res = await raw(facade.url, `/token?service=imagegate-registry&${q}`, { headers: { authorization: basic(users.bob) } });
    assert.equal(res.status, 200);
    assert.deepEqual(decodeJwt(res.json.token).access, [
      { type: 'repository', name: 'basic/test/busybox', actions: ['pull'] },
      { type: 'repository', name: 'basic/test/large', actions: ['pull'] },
    ]);
  });

  it('accepts the OAuth2 password grant (POST form) and refuses bad passwords there too', async () => {
    const form = (password: string) =>
      new URLSearchParams({ grant_type: 'password', username: users.alice.username, password, service: 'imagegate-registry', scope: 'repository:basic/test/busybox:pull', client_id: 'test' }).toString();
    const ok = await raw(facade.url, '/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form(users.alice.password) });
    assert.equal(ok.status, 200);
    assert.equal((await raw(facade.url, MANIFEST, { headers: bearer(ok.json.access_token) })).status, 200);
    const bad = await raw(facade.url, '/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form('wrong-password') });
    assert.equal(bad.status, 401);
    assert.equal(bad.json.errors[0].code, 'UNAUTHORIZED');
  });

  it('accepts Basic credentials on registry requests directly', async () => {
    assert.equal((await raw(facade.url, MANIFEST, { headers: { authorization: basic(users.bob) } })).status, 200);
  });

  it('answers DENIED 403 to a known user without the right', async () => {
    const res = await raw(facade.url, '/v2/token/test/busybox/manifests/1', { headers: { authorization: basic(users.bob) } });
    assert.equal(res.status, 403);
    assert.equal(res.json.errors[0].code, 'DENIED');
  });

  it('authorizes by group', async () => {
    const t = await tokenFor(facade.url, users.carol, 'repository:token/test/busybox:pull');
    assert.equal((await raw(facade.url, '/v2/token/test/busybox/manifests/1', { headers: bearer(t) })).status, 200);
    assert.equal((await raw(facade.url, MANIFEST, { headers: bearer(t) })).status, 401);
  });

  it('lets anonymous clients pull only the configured repository patterns', async () => {
    assert.equal((await raw(facade.url, '/v2/basic/test/large/manifests/1')).status, 200);
    const anon = await tokenFor(facade.url, undefined, 'repository:basic/test/busybox:pull');
    assert.deepEqual(decodeJwt(anon).access, []);
    assert.equal((await raw(facade.url, MANIFEST, { headers: bearer(anon) })).status, 401);
  });

  it('refuses a token for repository A on repository B with 401 insufficient_scope', async () => {
    const a = await tokenFor(facade.url, users.alice, 'repository:basic/test/busybox:pull');
    const res = await raw(facade.url, '/v2/token/test/busybox/manifests/1', { headers: bearer(a) });
    assert.equal(res.status, 401);
    assert.equal(res.json.errors[0].code, 'UNAUTHORIZED');
    assert.match(String(res.headers['www-authenticate']), /scope="repository:token\/test\/busybox:pull",error="insufficient_scope"/);
  });

  it('refuses forged, expired, wrong-audience, wrong-issuer and alg:none tokens with 401', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const payload = Buffer.from(JSON.stringify({ iss: 'imagegate-registry', aud: 'imagegate-registry', sub: 'alice', exp: 4102444800, access: [{ type: 'repository', name: 'basic/test/busybox', actions: ['pull'] }] })).toString('base64url');
    const cases: Record<string, string> = {
      forged: await sign({}, { key: other }),
      expired: await sign({}, { exp: Math.floor(Date.now() / 1000) - 60 }),
      'wrong audience': await sign({}, { aud: 'someone-else' }),
      'wrong issuer': await sign({}, { iss: 'evil' }),
      'alg none': `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.`,
      garbage: 'not-a-jwt',
    };
    assert.equal((await raw(facade.url, MANIFEST, { headers: bearer(await sign({})) })).status, 200, 'the control token is accepted');
    for (const [what, token] of Object.entries(cases)) {
      const res = await raw(facade.url, MANIFEST, { headers: bearer(token) });
      assert.equal(res.status, 401, what);
      assert.equal(res.json.errors[0].code, 'UNAUTHORIZED', what);
    }
  });

  it('does not count expired facade tokens as failed logins (a busy client renewing tokens is never rate limited)', async () => {
    const expired = await sign({}, { exp: Math.floor(Date.now() / 1000) - 60 });
    for (let i = 0; i < 30; i++) {
      const res = await raw(facade.url, MANIFEST, { headers: bearer(expired) });
      assert.equal(res.status, 401);
      assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/);
    }
    assert.equal((await raw(facade.url, MANIFEST, { headers: bearer(await sign({})) })).status, 200);
    assert.equal((await raw(facade.url, MANIFEST, { headers: bearer('not-ours') })).status, 401, 'bearer logins from this client are not rate limited');
  });

  it('rate-limits 100 bad passwords with 429 TOOMANYREQUESTS and Retry-After, while other users are still served', async () => {
    const victim = { username: users.alice.username, password: 'guess' };
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) {
      const res = await raw(facade.url, `/token?service=imagegate-registry&scope=repository:basic/test/busybox:pull`, { headers: { authorization: basic({ ...victim, password: `guess-${i}` }) } });
      statuses.push(res.status);
      if (res.status === 429) {
        assert.equal(res.json.errors[0].code, 'TOOMANYREQUESTS');
        assert.ok(Number(res.headers['retry-after']) > 0);
      }
    }
    assert.ok(statuses.slice(0, 10).every((s) => s === 401), statuses.join(','));
    assert.ok(statuses.slice(10).every((s) => s === 429), statuses.join(','));
    const right = await raw(facade.url, '/token?service=imagegate-registry', { headers: { authorization: basic(users.alice) } });
    assert.equal(right.status, 429, 'the attacked user stays locked for this client until the window ends');
    const other = await raw(facade.url, MANIFEST, { headers: { authorization: basic(users.bob) } });
    assert.equal(other.status, 200);
    assert.equal((await raw(facade.url, '/v2/')).status, 401);
  });

  it('never writes a password or a token to the log', () => {
    const text = logs.join('\n');
    for (const u of Object.values(users)) assert.ok(!text.includes(u.password));
    assert.ok(!text.includes('guess-1'));
    assert.ok(!text.includes('upstream-s3cret'));
    assert.ok(text.includes('login denied'), 'denied logins are logged');
  });
});
