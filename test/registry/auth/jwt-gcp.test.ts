import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { createCredentialServices, type CredentialServices } from '../../../src/credentials';
import { silentLogger } from '../../../src/log/logger';
import { Authorizer } from '../../../src/registry/access/authorizer';
import type { AuthDecision } from '../../../src/registry/auth/authenticator';
import { createAuthChain } from '../../../src/registry/auth/chain';
import { jwtAuthenticator } from '../../../src/registry/auth/authenticators/jwt';
import { GOOGLE_ISSUER, MetadataStandIn, STANDIN_GCP_INSTANCE, STANDIN_GCP_PROJECT, STANDIN_GCP_SA, STANDIN_GCP_ZONE, useMetadataStandIn } from '../../gcp';
import { authenticatorContract, basic, bearer } from './support/contract';
import { buildAuthenticator } from './support/build';

const AUDIENCE = 'https://registry.imagegate.test';
const env = { name: 'gke', logger: silentLogger, baseDir: '.', configPath: 'auth.chain[0].jwt' };
const ctx = { clientIp: '127.0.0.1' };
const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('jwt profile gcp (Google ID tokens from the metadata server)', () => {
  const gce = useMetadataStandIn();
  let other: MetadataStandIn;
  let creds: CredentialServices;
  before(async () => {
    other = await MetadataStandIn.start();
    creds = createCredentialServices();
  });
  after(async () => {
    creds?.close();
    await other?.close();
  });

  const options = (extra: Record<string, unknown> = {}) => ({ profile: 'gcp', audience: AUDIENCE, jwksUrl: gce.standIn.jwksUrl, ...extra });
  /** What the `gcp-id-token` provider hands the facade: google-auth-library's Compute.fetchIdToken against the stand-in. */
  const idToken = async (audience = AUDIENCE) => (await creds.google.idToken({ audience })).token.reveal();

  authenticatorContract('jwt profile gcp (GCE stand-in)', async () => {
    const good = await idToken();
    const claims = decodeJwt(good);
    return {
      create: async (logger) => buildAuthenticator(jwtAuthenticator, options(), { ...env, logger }),
      good: basic('gcp-id-token', good),
      goodName: STANDIN_GCP_SA,
      bad: [
        bearer(await idToken('https://elsewhere.example')),
        bearer(await gce.standIn.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 })),
        bearer(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`),
        bearer(await other.sign(claims)),
        bearer(await gce.standIn.sign({ ...claims, email_verified: false })),
      ],
      foreign: [basic('alice', 'alice-password'), bearer(await gce.standIn.sign({ ...claims, iss: 'https://issuer.example' })), bearer('ya29.an-access-token')],
    };
  });

  it('takes the issuer https://accounts.google.com by default and names the service account; project, zone and instance become claims', async () => {
    const auth = await buildAuthenticator(jwtAuthenticator, options(), env);
    const d = await auth.authenticate(basic('gcp-id-token', await idToken()), ctx);
    assert.equal(d.kind, 'allow', JSON.stringify(d));
    const { identity } = d as Extract<AuthDecision, { kind: 'allow' }>;
    assert.equal(identity.name, STANDIN_GCP_SA);
    assert.equal(identity.claims.iss, GOOGLE_ISSUER);
    assert.equal(identity.claims.project_id, STANDIN_GCP_PROJECT);
    assert.equal(identity.claims.zone, STANDIN_GCP_ZONE);
    assert.equal(identity.claims.instance_name, STANDIN_GCP_INSTANCE);
  });

  it('lets rules say "nodes of project X in zone Y"', async () => {
    const auth = await buildAuthenticator(jwtAuthenticator, options(), env);
    const d = (await auth.authenticate(bearer(await idToken()), ctx)) as Extract<AuthDecision, { kind: 'allow' }>;
    const rules = new Authorizer([
      { claims: { project_id: STANDIN_GCP_PROJECT, zone: 'europe-west1-*' }, repositories: ['gke/**'], actions: ['pull'] },
      { claims: { project_id: 'another-project' }, repositories: ['other/**'], actions: ['pull'] },
    ]);
    assert.deepEqual([...rules.actions(d.identity, 'gke/app')], ['pull']);
    assert.deepEqual([...rules.actions(d.identity, 'other/app')], []);
  });

  it('denies expired, other-audience, unsigned and foreign-key tokens, and the chain denies another issuer\'s', async () => {
    const auth = await buildAuthenticator(jwtAuthenticator, options(), env);
    const claims = decodeJwt(await idToken());
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, string, RegExp][] = [
      ['expired', await gce.standIn.sign({ ...claims, iat: now - 7200, exp: now - 3600 }), /ERR_JWT_EXPIRED/],
      ['another audience', await idToken('https://elsewhere.example'), /ERR_JWT_CLAIM_VALIDATION_FAILED \(aud\)/],
      ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`, /./],
      ['another key', await other.sign(claims), /./],
    ];
    for (const [what, token, reason] of cases) {
      const d = await auth.authenticate(bearer(token), ctx);
      assert.equal(d.kind, 'deny', what);
      assert.match((d as { reason: string }).reason, reason, what);
    }
    const chain = await createAuthChain([{ jwt: options() }], { logger: silentLogger, baseDir: '.' });
    const foreign = await chain.authenticate(bearer(await gce.standIn.sign({ ...claims, iss: 'https://issuer.example' })), ctx);
    assert.equal(foreign.kind, 'deny');
    await chain.close();
  });

  it('still needs an issuer for the other profiles', () => {
    assert.throws(() => buildAuthenticator(jwtAuthenticator, { audience: AUDIENCE }, env), /auth\.chain\[0\]\.jwt\.issuer: required/);
  });
});
