import assert from 'node:assert/strict';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { ConfigError } from '../../src/config/errors';
import { CredentialError, createCredentialServices } from '../../src/credentials';
import { AwsStandIn, STANDIN_NODE_ROLE, standInCredentials } from '../../testing/aws';
import { useStandInServices } from './stand-in-services';

describe('sts-jwt token source (real SDK against the AWS stand-in)', () => {
  const env = useStandInServices();

  const verify = (jwt: string, audience: string) => jwtVerify(jwt, createRemoteJWKSet(new URL(env.aws.jwksUrl)), { issuer: env.aws.issuer, audience });

  it('mints a JWT that verifies against the JWKS, on the regional endpoint', async () => {
    const jwt = await env.creds.jwts.get({ audiences: ['https://registry.example'], algorithm: 'ES384', durationSeconds: 600 });
    const { payload, protectedHeader } = await verify(jwt.token.reveal(), 'https://registry.example');
    assert.equal(protectedHeader.alg, 'ES384');
    assert.equal(payload.sub, STANDIN_NODE_ROLE);
    assert.equal(jwt.expiresAt.getTime(), payload.exp! * 1000);
    assert.equal(env.aws.requests[0].region, 'eu-west-1');
  });

  it('caches by audience set, in any order', async () => {
    const a = await env.creds.jwts.get({ audiences: ['b', 'a'] });
    const b = await env.creds.jwts.get({ audiences: ['a', 'b', 'a'] });
    assert.equal(a.token.reveal(), b.token.reveal());
    await env.creds.jwts.get({ audiences: ['a'] });
    assert.equal(env.aws.calls('sts:GetWebIdentityToken'), 2);
  });

  it('assumes the configured role first, so the JWT names that role', async () => {
    const role = 'arn:aws:iam::444455556666:role/team-a-pull';
    const jwt = await env.creds.jwts.get({ audiences: ['x'], roleArn: role });
    assert.equal((await verify(jwt.token.reveal(), 'x')).payload.sub, role);
    await env.creds.jwts.get({ audiences: ['y'], roleArn: role });
    assert.equal(env.aws.calls('sts:AssumeRole'), 1, 'the role session is cached too');
  });

  it('sends tags as request_tags', async () => {
    const jwt = await env.creds.jwts.get({ audiences: ['x'], tags: { team: 'a', env: 'test' } });
    const claims = (await verify(jwt.token.reveal(), 'x')).payload['https://sts.amazonaws.com/'] as { request_tags: unknown };
    assert.deepEqual(claims.request_tags, { team: 'a', env: 'test' });
  });

  it('explains a disabled outbound identity federation', async () => {
    env.aws.failNext('OutboundWebIdentityFederationDisabledException');
    await assert.rejects(env.creds.jwts.get({ audiences: ['x'] }), (err: CredentialError) => {
      assert.ok(err instanceof CredentialError);
      assert.equal(err.code, 'OutboundWebIdentityFederationDisabledException');
      assert.match(err.message, /outbound identity federation is not enabled/);
      return true;
    });
  });

  it('explains AccessDenied with the audiences and the permission needed', async () => {
    env.aws.failNext('AccessDenied');
    await assert.rejects(env.creds.jwts.get({ audiences: ['https://a'] }), /AccessDenied .*sts:GetWebIdentityToken for audiences https:\/\/a/);
  });

  it('retries once with the duration the session still allows', async () => {
    const sessionEnd = Date.now() + 600_000;
    const short = await AwsStandIn.start({ principal: { arn: STANDIN_NODE_ROLE, account: '111122223333', sessionExpiresAt: sessionEnd } });
    const services = createCredentialServices({
      aws: { region: 'eu-west-1', endpoints: { sts: short.url }, credentials: { ...standInCredentials, expiration: new Date(sessionEnd) }, maxAttempts: 1 },
    });
    try {
      const jwt = await services.jwts.get({ audiences: ['x'], durationSeconds: 3600 });
      const { payload } = await jwtVerify(jwt.token.reveal(), createRemoteJWKSet(new URL(short.jwksUrl)), { audience: 'x' });
      const lifetime = payload.exp! - payload.iat!;
      assert.ok(lifetime < 600 && lifetime >= 500, `lifetime ${lifetime}`);
      assert.deepEqual(short.requests.map((r) => r.error), ['SessionDurationEscalationException', undefined]);
    } finally {
      services.close();
      await short.close();
    }
  });

  it('turns JWTPayloadSizeExceededException into a configuration error naming the tags', async () => {
    const tags = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`k${i}`, 'v']));
    await assert.rejects(env.creds.jwts.get({ audiences: ['x'], tags, tagsSetting: 'credentials.rules[0].with.tags' }), (err: ConfigError) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.setting, 'credentials.rules[0].with.tags');
      return true;
    });
  });

  it('refuses the global STS endpoint', async () => {
    await assert.rejects(env.creds.jwts.get({ audiences: ['x'], region: 'aws-global' }), /regional/);
    assert.equal(env.aws.calls(), 0);
  });
});
