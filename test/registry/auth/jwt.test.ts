import assert from 'node:assert/strict';
import { GetWebIdentityTokenCommand, STSClient } from '@aws-sdk/client-sts';
import { generateKeyPair, SignJWT, decodeJwt } from 'jose';
import { ConfigError } from '../../../src/config/errors';
import { silentLogger } from '../../../src/log/logger';
import { jwtAuthenticator } from '../../../src/registry/auth/authenticators/jwt';
import { AwsStandIn, STANDIN_ACCOUNT, STANDIN_NODE_ROLE, standInCredentials } from '../../../testing/aws';
import { authenticatorContract, basic, bearer } from './support/contract';
import { OIDC_CLIENT_ID, OIDC_RESOURCE, startOidcIssuer, type OidcIssuer } from './support/oidc';
import { buildAuthenticator } from './support/build';

const AUDIENCE = 'https://registry.imagegate.test';
const env = { name: 'aws', logger: silentLogger, baseDir: '.', configPath: 'auth.chain[0].jwt' };
const ctx = { clientIp: '127.0.0.1' };

async function mint(aws: AwsStandIn, audience = AUDIENCE, alg: 'RS256' | 'ES384' = 'RS256'): Promise<string> {
  const sts = new STSClient({ endpoint: aws.url, region: 'eu-west-1', credentials: standInCredentials, maxAttempts: 1 });
  const out = await sts.send(new GetWebIdentityTokenCommand({ Audience: [audience], SigningAlgorithm: alg, DurationSeconds: 300 }));
  return out.WebIdentityToken!;
}

const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('jwt', () => {
  let aws: AwsStandIn;
  let past: AwsStandIn;
  let oidc: OidcIssuer;
  before(async () => {
    aws = await AwsStandIn.start();
    past = await AwsStandIn.start({ now: () => Date.now() - 2 * 3600_000 });
    oidc = await startOidcIssuer();
  });
  after(async () => {
    await Promise.all([aws?.close(), past?.close(), oidc?.close()]);
  });

  const awsOptions = () => ({ issuer: aws.issuer, jwksUrl: aws.jwksUrl, audience: AUDIENCE, algorithms: ['RS256', 'ES384'], profile: 'aws-sts' });

  describe('against the AWS stand-in (STS GetWebIdentityToken)', () => {
    authenticatorContract('jwt (AWS STS JWKS)', async () => {
      const token = await mint(aws);
      return {
        create: async (logger) => buildAuthenticator(jwtAuthenticator, awsOptions(), { ...env, logger }),
        good: basic('AWS', token),
        goodName: STANDIN_NODE_ROLE,
        bad: [bearer(await mint(aws, 'https://elsewhere.example')), bearer(`${token.slice(0, -4)}AAAA`)],
        foreign: [basic('alice', 'alice-password'), bearer(await oidc.token()), bearer('opaque-token-value')],
      };
    });

    it('accepts RS256 and ES384 tokens as the role ARN, with the account from the STS claim', async () => {
      const auth = await buildAuthenticator(jwtAuthenticator, awsOptions(), env);
      for (const alg of ['RS256', 'ES384'] as const) {
        const d = await auth.authenticate(bearer(await mint(aws, AUDIENCE, alg)), ctx);
        assert.equal(d.kind, 'allow', `${alg}: ${JSON.stringify(d)}`);
        if (d.kind !== 'allow') return;
        assert.equal(d.identity.name, STANDIN_NODE_ROLE);
        assert.equal(d.identity.claims.account, STANDIN_ACCOUNT);
        assert.equal(d.identity.authenticator, 'aws');
      }
    });

    it('finds the keys by issuer discovery when no JWKS URL is given', async () => {
      const auth = await buildAuthenticator(jwtAuthenticator, { issuer: aws.issuer, audience: AUDIENCE, profile: 'aws-sts' }, env);
      assert.equal((await auth.authenticate(bearer(await mint(aws)), ctx)).kind, 'allow');
    });

    it('maps configured claim paths to groups and attributes', async () => {
      const claims = { name: ['missing', 'sub'], groups: ['[https://sts.amazonaws.com/].aws_account'], attributes: { region: '[https://sts.amazonaws.com/].source_region' } };
      const auth = await buildAuthenticator(jwtAuthenticator, { ...awsOptions(), claims }, env);
      const d = await auth.authenticate(bearer(await mint(aws)), ctx);
      assert.ok(d.kind === 'allow');
      assert.deepEqual(d.identity.groups, [STANDIN_ACCOUNT]);
      assert.equal(d.identity.claims.region, 'eu-west-1');
    });

    const attacks: [string, () => Promise<string>][] = [
      ['for another audience', () => mint(aws, 'https://other.example')],
      ['forged (signed by another key under the real kid)', async () => forge('RS256', 'RSA_1', await mint(aws))],
      ['unsigned (alg: none)', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(decodeJwt(await mint(aws)))}.`],
      ['HMAC-signed with the public key (alg confusion)', async () => hmacConfusion(await mint(aws))],
      ['tampered (sub changed)', async () => tamper(await mint(aws))],
    ];
    for (const [what, token] of attacks) {
      it(`denies a token that is ${what}`, async () => {
        const auth = await buildAuthenticator(jwtAuthenticator, awsOptions(), env);
        for (const c of [bearer(await token()), basic('AWS', await token())]) {
          const d = await auth.authenticate(c, ctx);
          assert.equal(d.kind, 'deny', JSON.stringify(d));
        }
      });
    }

    it('denies an expired token (beyond the leeway)', async () => {
      const auth = await buildAuthenticator(jwtAuthenticator, { ...awsOptions(), issuer: past.issuer, jwksUrl: past.jwksUrl }, env);
      const d = await auth.authenticate(bearer(await mint(past)), ctx);
      assert.equal(d.kind, 'deny');
      assert.match((d as { reason: string }).reason, /ERR_JWT_EXPIRED/);
    });

    it('denies when the issuer’s keys cannot be fetched', async () => {
      const token = await mint(aws);
      const auth = await buildAuthenticator(jwtAuthenticator, { issuer: aws.issuer, jwksUrl: 'http://127.0.0.1:9/jwks.json', audience: AUDIENCE, timeout: '2s' }, env);
      assert.deepEqual(await auth.authenticate(bearer(token), ctx), { kind: 'deny', reason: 'issuer keys unavailable' });
    });
  });

  describe('against a real OIDC issuer (oidc-provider)', () => {
    const oidcOptions = () => ({ issuer: oidc.issuer, audience: OIDC_RESOURCE, algorithms: ['RS256'], claims: { name: ['client_id'] } });
    authenticatorContract('jwt (oidc-provider discovery)', async () => ({
      create: async (logger) => buildAuthenticator(jwtAuthenticator, oidcOptions(), { ...env, logger }),
      good: bearer(await oidc.token()),
      goodName: OIDC_CLIENT_ID,
      bad: [bearer(await forge('RS256', 'test-rs256', await oidc.token()))],
      foreign: [bearer(await mint(aws)), basic('oauth2accesstoken', await oidc.token(false))],
    }));

    it('takes the token as the Basic password too, whatever the user name', async () => {
      const auth = await buildAuthenticator(jwtAuthenticator, oidcOptions(), env);
      const d = await auth.authenticate(basic('oauth2accesstoken', await oidc.token()), ctx);
      assert.equal(d.kind === 'allow' && d.identity.name, OIDC_CLIENT_ID);
    });
  });

  const bad: [string, object, RegExp][] = [
    ['alg none', { algorithms: ['none'] }, /auth\.chain\[0\]\.jwt\.algorithms\[0\]: algorithm "none" not allowed/],
    ['an HMAC algorithm', { algorithms: ['RS256', 'HS256'] }, /\.jwt\.algorithms\[1\]: algorithm "HS256" not allowed/],
    ['a plain-http issuer off loopback', { issuer: 'http://issuer.example.com' }, /\.jwt\.issuer: must use https unless the host is loopback/],
    ['no audience', { audience: undefined }, /\.jwt\.audience: /],
    ['a bad claim path', { claims: { groups: ['a..b'] } }, /\.jwt\.claims\.groups\[0\]: not a claim path/],
    ['an unknown profile', { profile: 'azure' }, /\.jwt\.profile: /],
  ];
  for (const [what, patch, message] of bad) {
    it(`refuses ${what} with a ConfigError naming the path`, () => {
      const options = { issuer: 'https://issuer.example.com', audience: AUDIENCE, ...patch };
      assert.throws(() => buildAuthenticator(jwtAuthenticator, options, env), (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }
});

/** The same claims, signed by a fresh key that claims the issuer's `kid`. */
async function forge(alg: 'RS256', kid: string, token: string): Promise<string> {
  const { privateKey } = await generateKeyPair(alg);
  return new SignJWT(decodeJwt(token)).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(privateKey);
}

async function hmacConfusion(token: string): Promise<string> {
  const { createHmac } = await import('node:crypto');
  const header = b64({ alg: 'HS256', kid: 'RSA_1', typ: 'JWT' });
  const payload = token.split('.')[1];
  const sig = createHmac('sha256', 'public-key-bytes').update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${sig}`;
}

function tamper(token: string): string {
  const [h, , s] = token.split('.');
  const claims = { ...decodeJwt(token), sub: 'arn:aws:iam::999999999999:role/admin' };
  return `${h}.${b64(claims)}.${s}`;
}
