import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GoogleAuth } from 'google-auth-library';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { buildPullCredentials, createCredentialServices, credentialsSchema, CredentialError, type CredentialServices } from '../../src/credentials';
import { createLogger } from '../../src/log/logger';
import { AwsStandIn, STANDIN_ACCESS_KEY_ID, STANDIN_NODE_ROLE, STANDIN_SECRET_ACCESS_KEY } from '../../testing/aws';
import { GOOGLE_ISSUER, GoogleStsStandIn, STANDIN_GCP_ACCESS_TOKEN, STANDIN_GCP_PROJECT, STANDIN_GCP_SA, STANDIN_GCP_ZONE, MetadataStandIn, useAwsEnvironment, useMetadataStandIn } from '../gcp';

const target = (registry: string) => ({ image: `${registry}/team/app:1`, registry, repository: 'team/app', labels: {} });
const TOKEN_PATH = 'instance/service-accounts/default/token';
const IDENTITY_PATH = 'instance/service-accounts/default/identity';

describe('Google credentials against the GCE metadata stand-in (google-auth-library)', function () {
  this.timeout(30_000);
  const gce = useMetadataStandIn();
  let creds: CredentialServices;
  beforeEach(() => {
    creds = createCredentialServices({ cache: { backoffInitialMs: 50, backoffMaxMs: 200 } });
  });
  afterEach(() => creds.close());

  describe('the stand-in speaks the metadata protocol', () => {
    it('refuses requests without Metadata-Flavor: Google or with X-Forwarded-For, and flavours every answer', async () => {
      const url = `http://${gce.standIn.host}/computeMetadata/v1/project/project-id`;
      assert.equal((await fetch(url)).status, 403);
      assert.equal((await fetch(url, { headers: { 'metadata-flavor': 'Google', 'x-forwarded-for': '10.0.0.1' } })).status, 403);
      const ok = await fetch(url, { headers: { 'metadata-flavor': 'Google' } });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('metadata-flavor'), 'Google');
      assert.equal(await ok.text(), STANDIN_GCP_PROJECT);
      const noAudience = await fetch(`http://${gce.standIn.host}/computeMetadata/v1/${IDENTITY_PATH}`, { headers: { 'metadata-flavor': 'Google' } });
      assert.equal(noAudience.status, 400);
    });

    it('is what google-auth-library finds on a node: project id and the default credentials', async () => {
      const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
      assert.equal(await auth.getProjectId(), STANDIN_GCP_PROJECT);
      assert.equal(await auth.getAccessToken(), STANDIN_GCP_ACCESS_TOKEN);
    });
  });

  describe('gcp-access-token', () => {
    it('hands the registry user oauth2accesstoken and the metadata server\'s token, with the scopes asked for', async () => {
      const pull = buildPullCredentials(credentialsSchema().parse({
        rules: [{ name: 'ar', match: { registry: '*.pkg.dev' }, provider: 'gcp-access-token', with: { scopes: ['https://www.googleapis.com/auth/devstorage.read_only'] } }],
      }), { services: creds });
      const plan = await pull.plan(target('europe-docker.pkg.dev'), undefined);
      assert.equal(plan.rule, 'ar');
      assert.equal(plan.candidates[0].source, 'gcp-access-token');
      assert.equal(plan.candidates[0].auth?.username, 'oauth2accesstoken');
      assert.equal(plan.candidates[0].auth?.password?.reveal(), STANDIN_GCP_ACCESS_TOKEN);
      assert.equal(String(plan.candidates[0].auth?.password), '***');
      await pull.close();
    });

    it('1,000 concurrent resolutions over 10 scope sets make 10 metadata calls', async () => {
      const scopes = Array.from({ length: 10 }, (_, i) => [`https://www.googleapis.com/auth/scope-${i}`]);
      const tokens = await Promise.all(Array.from({ length: 1000 }, (_, i) => creds.google.accessToken({ scopes: scopes[i % 10] })));
      assert.ok(tokens.every((t) => t.token.reveal() === STANDIN_GCP_ACCESS_TOKEN));
      assert.equal(gce.standIn.calls(TOKEN_PATH), 10);
    });
  });

  describe('gcp-access-token through workload identity federation (AWS → GCP, external-account file)', () => {
    useAwsEnvironment({ accessKeyId: STANDIN_ACCESS_KEY_ID, secretAccessKey: STANDIN_SECRET_ACCESS_KEY });
    let aws: AwsStandIn;
    let sts: GoogleStsStandIn;
    let dir: string;
    let file: string;
    before(async () => {
      aws = await AwsStandIn.start();
      sts = await GoogleStsStandIn.start(aws.url);
      dir = mkdtempSync(join(tmpdir(), 'imagegate-wif-'));
      file = join(dir, 'aws-federation.json');
      writeFileSync(file, JSON.stringify(sts.externalAccount()));
    });
    after(async () => {
      rmSync(dir, { recursive: true, force: true });
      await sts?.close();
      await aws?.close();
    });

    it('trades the node\'s signed GetCallerIdentity for a Google access token, once per key', async () => {
      const pull = buildPullCredentials(credentialsSchema().parse({ rules: [{ provider: 'gcp-access-token', with: { credentialsFile: file } }] }), { services: creds });
      for (let i = 0; i < 3; i++) {
        const auth = (await pull.plan(target('europe-docker.pkg.dev'), undefined)).candidates[0].auth!;
        assert.equal(auth.username, 'oauth2accesstoken');
        assert.equal(auth.password?.reveal(), STANDIN_GCP_ACCESS_TOKEN);
      }
      assert.deepEqual(sts.exchanges, [{ arn: STANDIN_NODE_ROLE }], 'one exchange, for the node role AWS vouched for');
      assert.equal(gce.standIn.calls(), 0, 'the metadata server is not asked');
      await pull.close();
    });

    it('fails with Google\'s reason when AWS refuses the signature (wrong key)', async () => {
      const saved = process.env.AWS_SECRET_ACCESS_KEY;
      process.env.AWS_SECRET_ACCESS_KEY = 'not-the-secret';
      try {
        await assert.rejects(creds.google.accessToken({ credentialsFile: file }), (err: Error) => {
          assert.match(err.message, /^gcp-access-token: workload identity federation \(.*aws-federation\.json\) answered HTTP 401: .*AWS refused the request \(403\)/);
          return true;
        });
      } finally {
        process.env.AWS_SECRET_ACCESS_KEY = saved;
      }
    });
  });

  describe('gcp-id-token', () => {
    it('mints a Google-signed ID token for https://<registry> that verifies against Google\'s certs, with the instance claims', async () => {
      const pull = buildPullCredentials(credentialsSchema().parse({ rules: [{ match: { registry: 'registry.example:5050' }, provider: 'gcp-id-token' }] }), { services: creds });
      const plan = await pull.plan(target('registry.example:5050'), undefined);
      const auth = plan.candidates[0].auth!;
      assert.equal(auth.username, 'gcp-id-token');
      const { payload, protectedHeader } = await jwtVerify(auth.password!.reveal(), createRemoteJWKSet(new URL(gce.standIn.jwksUrl)), {
        issuer: GOOGLE_ISSUER, audience: 'https://registry.example:5050',
      });
      assert.equal(protectedHeader.alg, 'RS256');
      assert.equal(payload.email, STANDIN_GCP_SA);
      assert.equal((payload.google as { compute_engine: { zone: string } }).compute_engine.zone, STANDIN_GCP_ZONE);
      await pull.close();
    });

    it('keeps an audience with query characters whole', async () => {
      const audience = 'https://registry.example/x?a=b&c=d#e';
      const { token } = await creds.google.idToken({ audience });
      assert.equal(JSON.parse(Buffer.from(token.reveal().split('.')[1], 'base64url').toString()).aud, audience);
    });

    it('hands the token over as a registry token when the rule says so', async () => {
      const pull = buildPullCredentials(credentialsSchema().parse({ rules: [{ provider: 'gcp-id-token', with: { as: 'registry-token', audience: 'facade' } }] }), { services: creds });
      const auth = (await pull.plan(target('registry.example'), undefined)).candidates[0].auth!;
      assert.ok(auth.registryToken && !auth.password);
      await pull.close();
    });
  });

  describe('when the metadata server fails', () => {
    it('serves the still-valid token while the server is down (stale-while-valid), then fails with a clear error and no token in it', async () => {
      const shortLived = await MetadataStandIn.start({ tokenTtlSeconds: 3 });
      const saved = process.env.GCE_METADATA_HOST;
      process.env.GCE_METADATA_HOST = shortLived.host;
      const lines: string[] = [];
      try {
        const pull = buildPullCredentials(credentialsSchema().parse({ rules: [{ provider: 'gcp-access-token' }] }), { services: creds, logger: createLogger({ level: 'debug', sink: lines }) });
        const first = await pull.plan(target('europe-docker.pkg.dev'), undefined);
        assert.equal(first.candidates[0].auth?.password?.reveal(), STANDIN_GCP_ACCESS_TOKEN);
        await shortLived.stop();
        await new Promise((r) => setTimeout(r, 1600));
        const stale = await pull.plan(target('europe-docker.pkg.dev'), undefined);
        assert.equal(stale.candidates[0].auth?.password?.reveal(), STANDIN_GCP_ACCESS_TOKEN, 'the valid token is still served');
        await new Promise((r) => setTimeout(r, 1600));
        await assert.rejects(pull.plan(target('europe-docker.pkg.dev'), undefined), (err: Error) => {
          assert.ok(err instanceof CredentialError, String(err));
          assert.match(err.message, new RegExp(`^gcp-access-token: the metadata server at ${shortLived.host.replace(/\./g, '\\.')} is not reachable \\(ECONNREFUSED\\)`));
          assert.ok(!err.message.includes(STANDIN_GCP_ACCESS_TOKEN));
          return true;
        });
        assert.ok(!lines.join('\n').includes(STANDIN_GCP_ACCESS_TOKEN), 'no token in the logs');
        await shortLived.restart();
        // A failed mint is held for the key's backoff period (1 s, doubling, at most 30 s) before it is tried again.
        let back: Awaited<ReturnType<typeof pull.plan>> | undefined;
        for (const until = Date.now() + 35_000; !back; ) {
          back = await pull.plan(target('europe-docker.pkg.dev'), undefined).catch((err: Error) => {
            if (Date.now() > until) throw err;
            return new Promise<undefined>((r) => setTimeout(() => r(undefined), 250));
          });
        }
        assert.equal(back.candidates[0].auth?.password?.reveal(), STANDIN_GCP_ACCESS_TOKEN, 'recovers when the server is back');
        await pull.close();
      } finally {
        process.env.GCE_METADATA_HOST = saved;
        await shortLived.close();
      }
    });

    it('names the HTTP status the metadata server answered', async () => {
      gce.standIn.failNext(10);
      await assert.rejects(creds.google.idToken({ audience: 'https://x.example' }), /^CredentialError: gcp-id-token: the metadata server at 127\.0\.0\.1:\d+ answered HTTP 503/);
    });
  });

  it('refuses bad rule parameters at start-up with the path of the setting', () => {
    const bad: [unknown, string][] = [
      [{ provider: 'gcp-access-token', with: { scopes: ['cloud-platform'] } }, 'rules.0.with.scopes.0'],
      [{ provider: 'gcp-id-token', with: { audiences: ['x'] } }, 'rules.0.with'],
      [{ provider: 'aws-iam', with: { expires: '1h' } }, 'rules.0.with.expires'],
      [{ provider: 'aws-iam', with: { header: 'Authorization' } }, 'rules.0.with.header'],
    ];
    for (const [rule, path] of bad) {
      const r = credentialsSchema().safeParse({ rules: [rule] });
      assert.ok(!r.success, JSON.stringify(rule));
      assert.equal(r.error.issues[0].path.join('.'), path, JSON.stringify(r.error.issues));
    }
  });
});
