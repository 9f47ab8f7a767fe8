/**
 * bench:tokens, the cross-cloud part (issue 13), run by bench/tokens.ts:
 *
 *  4. Google providers against the GCE metadata stand-in through the real
 *     google-auth-library: 1,000 concurrent resolutions over 10 keys (10
 *     audiences for gcp-id-token, 10 scope sets for gcp-access-token) must make
 *     10 metadata calls; alternative: no cache (Compute.fetchIdToken /
 *     refreshAccessToken per resolution).
 *  5. Warm Google resolution latency (target p99 < 1 ms); alternative: the
 *     metadata server every time.
 *  6. The facade's aws-iam login against the AWS stand-in: logins per second
 *     with the verified-identity cache over 10 distinct presigned requests (STS
 *     calls must equal 10); alternative: the same checks and one STS replay per
 *     login (what aws-iam-authenticator does, it keeps no cache).
 *
 * Environment: BENCH_TOKENS_WARM (default 20000), BENCH_TOKENS_LOGINS (default 20000).
 */
import { Compute } from 'google-auth-library';
import { createCredentialServices } from '../src/credentials';
import { decodeAwsIamToken } from '../src/credentials/aws-iam-token';
import { silentLogger } from '../src/log/logger';
import { Secret } from '../src/log/secret';
import { awsIamAuthenticator } from '../src/registry/auth/authenticators/aws-iam';
import { checkPresigned } from '../src/registry/auth/authenticators/aws-iam-request';
import { createAgents, readSmall, send } from '../src/registry/upstream/http-client';
import { AwsStandIn, standInCredentials } from '../testing/aws';
import { MetadataStandIn } from '../testing/gcp/metadata-stand-in';
import { pct, timed } from './timing';

type Row = [string, string, string, string];
const KEYS = 10;
const CONCURRENT = 1000;
const ms = (v: number) => `${v.toFixed(3)} ms`;

/** Scenarios 4 and 5. */
export async function googleRows(warmCount: number): Promise<Row[]> {
  const gce = await MetadataStandIn.start();
  const saved = process.env.GCE_METADATA_HOST;
  process.env.GCE_METADATA_HOST = gce.host;
  const audiences = Array.from({ length: KEYS }, (_, i) => `https://facade-${i}.example`);
  const scopes = Array.from({ length: KEYS }, (_, i) => [`https://www.googleapis.com/auth/bench-${i}`]);
  const rows: Row[] = [];
  try {
    for (const kind of ['gcp-id-token', 'gcp-access-token'] as const) {
      const path = kind === 'gcp-id-token' ? 'instance/service-accounts/default/identity' : 'instance/service-accounts/default/token';
      gce.reset();
      const s = createCredentialServices();
      await Promise.all(Array.from({ length: CONCURRENT }, (_, i) =>
        kind === 'gcp-id-token' ? s.google.idToken({ audience: audiences[i % KEYS] }) : s.google.accessToken({ scopes: scopes[i % KEYS] })));
      const cached = gce.calls(path);
      s.close();
      gce.reset();
      // Without a cache 1,000 requests hit the metadata server at once; under load some reach gcp-metadata's 3 s timeout: counted, not fatal.
      const settled = await Promise.allSettled(Array.from({ length: CONCURRENT }, (_, i) =>
        kind === 'gcp-id-token' ? new Compute().fetchIdToken(audiences[i % KEYS]) : new Compute({ scopes: scopes[i % KEYS] }).refreshAccessToken()));
      const failed = settled.filter((r) => r.status === 'rejected').length;
      const uncached = gce.calls(path);
      if (cached !== KEYS) throw new Error(`${kind}: ${cached} metadata calls for ${KEYS} keys`);
      const alternative = failed > 0 ? `${CONCURRENT} asked (no cache): ${uncached} served, ${failed} failed (timeouts)` : `${uncached} (no cache)`;
      rows.push([`metadata calls, ${CONCURRENT} concurrent resolutions over ${KEYS} keys (${kind})`, String(cached), alternative, `${(CONCURRENT / cached).toFixed(0)}× fewer`]);
    }
    const s = createCredentialServices();
    for (let i = 0; i < KEYS; i++) {
      await s.google.idToken({ audience: audiences[i] });
      await s.google.accessToken({ scopes: scopes[i] });
    }
    const warm = await timed(warmCount, (i) => (i % 2 ? s.google.idToken({ audience: audiences[i % KEYS] }) : s.google.accessToken({ scopes: scopes[i % KEYS] })));
    s.close();
    const compute = new Compute();
    const direct = await timed(Math.min(warmCount, 500), (i) => compute.fetchIdToken(audiences[i % KEYS]));
    rows.push(
      ['warm Google resolution p50', ms(pct(warm, 50)), `${ms(pct(direct, 50))} (metadata server every time)`, `${(pct(direct, 50) / pct(warm, 50)).toFixed(0)}× faster`],
      ['warm Google resolution p99 (target < 1 ms)', ms(pct(warm, 99)), `${ms(pct(direct, 99))} (metadata server every time)`, `${(pct(direct, 99) / pct(warm, 99)).toFixed(0)}× faster`],
    );
    if (pct(warm, 99) >= 1) throw new Error(`warm Google p99 ${ms(pct(warm, 99))} is not under 1 ms`);
  } finally {
    if (saved === undefined) delete process.env.GCE_METADATA_HOST;
    else process.env.GCE_METADATA_HOST = saved;
    await gce.close();
  }
  return rows;
}

/** Runs `total` logins over `workers` concurrent loops; answers logins per second. */
async function loginRate(total: number, workers: number, login: (i: number) => Promise<boolean>): Promise<number> {
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < total) if (!(await login(next++))) failed++;
  }));
  if (failed > 0) throw new Error(`${failed} logins failed`);
  return total / ((performance.now() - started) / 1000);
}

/** Scenario 6. */
export async function awsIamRows(logins: number): Promise<Row[]> {
  const aws = await AwsStandIn.start();
  const audience = 'https://facade.bench';
  const creds = createCredentialServices({ aws: { region: 'eu-west-1', endpoints: { sts: aws.url }, credentials: standInCredentials, maxAttempts: 1 } });
  try {
    // 10 distinct presigned requests: 10 lifetimes (one node each, as it were).
    const tokens = await Promise.all(Array.from({ length: KEYS }, async (_, i) => (await creds.awsIam.get({ audience, expiresSeconds: 900 - i })).token.reveal()));
    const auth = await awsIamAuthenticator.create(awsIamAuthenticator.params.parse({ audience, regions: ['eu-west-1'], endpoint: aws.url }), { name: 'aws-iam', logger: silentLogger, baseDir: '.', configPath: 'bench' });
    aws.reset();
    const ours = await loginRate(logins, 50, async (i) => (await auth.authenticate({ kind: 'basic', username: 'aws-iam', password: new Secret(tokens[i % KEYS]) }, { clientIp: '127.0.0.1' })).kind === 'allow');
    const oursCalls = aws.calls('sts:GetCallerIdentity');
    await auth.close();
    if (oursCalls !== KEYS) throw new Error(`aws-iam: ${oursCalls} STS calls for ${KEYS} presigned requests`);

    const agents = createAgents(64);
    const hosts = new Set(['sts.eu-west-1.amazonaws.com']);
    const replayEveryTime = async (token: string) => {
      const checked = checkPresigned(decodeAwsIamToken(token)!, { hosts, header: 'x-imagegate-audience', maxLifetimeMs: 900_000, clockSkewMs: 300_000, now: Date.now() });
      if ('refused' in checked) return false;
      const url = new URL(`/?${checked.query}`, aws.url);
      const res = await send(url, { method: 'GET', headers: { host: checked.host, 'x-imagegate-audience': audience, accept: 'application/json' }, timeoutMs: 5000, agents }, 'sts');
      const doc = JSON.parse((await readSmall(res)).toString('utf8'));
      return res.statusCode === 200 && typeof doc.GetCallerIdentityResponse?.GetCallerIdentityResult?.Arn === 'string';
    };
    aws.reset();
    const theirLogins = Math.min(logins, 3000);
    const theirs = await loginRate(theirLogins, 50, (i) => replayEveryTime(tokens[i % KEYS]));
    const theirCalls = aws.calls('sts:GetCallerIdentity');
    agents.http.destroy();
    return [
      [`aws-iam logins/s (${logins} logins, 10 presigned requests, 50 concurrent)`, `${ours.toFixed(0)}/s`, `${theirs.toFixed(0)}/s (STS replay per login)`, `${(ours / theirs).toFixed(1)}× more`],
      ['STS calls for those logins', `${oursCalls}`, `${theirCalls} for ${theirLogins} logins`, 'one per distinct presigned request'],
    ];
  } finally {
    creds.close();
    await aws.close();
  }
}
