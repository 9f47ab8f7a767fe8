import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/config/errors';
import { silentLogger } from '../../../src/log/logger';
import { introspectionAuthenticator } from '../../../src/registry/auth/authenticators/oauth2-introspection';
import { authenticatorContract, basic, bearer } from './support/contract';
import { OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, startOidcIssuer, type OidcIssuer } from './support/oidc';
import { buildAuthenticator } from './support/build';

const env = { name: 'idp', logger: silentLogger, baseDir: '.', configPath: 'auth.chain[3].oauth2-introspection' };
const ctx = { clientIp: '127.0.0.1' };

describe('oauth2-introspection (oidc-provider)', () => {
  let oidc: OidcIssuer;
  before(async () => {
    oidc = await startOidcIssuer();
  });
  after(() => oidc?.close());

  const options = () => ({ url: oidc.introspectionUrl, clientId: OIDC_CLIENT_ID, clientSecret: OIDC_CLIENT_SECRET, username: 'oauth2accesstoken' });

  authenticatorContract('oauth2-introspection', async () => ({
    create: async (logger) => buildAuthenticator(introspectionAuthenticator, options(), { ...env, logger }),
    good: bearer(await oidc.token(false)),
    goodName: OIDC_CLIENT_ID,
    bad: [bearer('unknown-opaque-token-value'), basic('oauth2accesstoken', 'another-unknown-token')],
    foreign: [basic('alice', 'alice-password')],
  }));

  it('takes an opaque token as the Basic password of the configured user name', async () => {
    const auth = await buildAuthenticator(introspectionAuthenticator, options(), env);
    const d = await auth.authenticate(basic('oauth2accesstoken', await oidc.token(false)), ctx);
    assert.equal(d.kind === 'allow' && d.identity.name, OIDC_CLIENT_ID);
    assert.equal(d.kind === 'allow' && d.identity.claims.iss, oidc.issuer);
  });

  it('denies active: false', async () => {
    const auth = await buildAuthenticator(introspectionAuthenticator, options(), env);
    assert.deepEqual(await auth.authenticate(bearer('no-such-token-at-all'), ctx), { kind: 'deny', reason: 'token not active' });
  });

  it('denies a token for another audience when an audience is required', async () => {
    const auth = await buildAuthenticator(introspectionAuthenticator, { ...options(), audience: 'https://registry.imagegate.test' }, env);
    assert.deepEqual(await auth.authenticate(bearer(await oidc.token(false)), ctx), { kind: 'deny', reason: 'token for another audience' });
  });

  it('denies when its own client credentials are wrong (the endpoint answers 401)', async () => {
    const auth = await buildAuthenticator(introspectionAuthenticator, { ...options(), clientSecret: 'not-the-secret' }, env);
    assert.deepEqual(await auth.authenticate(bearer(await oidc.token(false)), ctx), { kind: 'deny', reason: 'introspection answered 401' });
  });

  it('denies when the endpoint is unreachable', async () => {
    const auth = await buildAuthenticator(introspectionAuthenticator, { ...options(), url: 'http://127.0.0.1:9/introspect', timeout: '2s' }, env);
    assert.deepEqual(await auth.authenticate(bearer('x-token'), ctx), { kind: 'deny', reason: 'introspection endpoint unavailable' });
  });

  const bad: [string, object, RegExp][] = [
    ['no client secret', { clientSecret: undefined }, /auth\.chain\[3\]\.oauth2-introspection\.clientSecret: /],
    ['plain http off loopback', { url: 'http://idp.example.com/introspect' }, /\.oauth2-introspection\.url: must use https unless the host is loopback/],
    ['an unknown claim-mapping key', { claims: { nam: 'sub' } }, /\.oauth2-introspection\.claims\.nam: unknown setting/],
  ];
  for (const [what, patch, message] of bad) {
    it(`refuses ${what} with a ConfigError naming the path`, () => {
      assert.throws(() => buildAuthenticator(introspectionAuthenticator, { ...options(), ...patch }, env), (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }
});
