/**
 * `npm run bench:tokens`: imagegate's token cache against the alternatives, in
 * one run, against the AWS stand-in through the real SDK clients.
 *
 *  1. 1,000 concurrent resolutions over 10 keys (sts-jwt, then ecr), cold:
 *     AWS calls must equal the number of keys. Alternative: no cache (one AWS
 *     call per resolution).
 *  2. Warm-cache resolution latency, sequential (target p99 < 1 ms).
 *     Alternative: asking AWS every time.
 *  3. The stand-in fails half its calls while tokens keep expiring (2 s ECR
 *     tokens, ~6 s of continuous resolutions): resolutions that fail although a
 *     valid token existed must be zero. Alternative: a lazy cache that refreshes
 *     synchronously inside the skew and has no stale fallback (as
 *     aws-outbound-jwt-proxy and most credential helpers do).
 *
 *  4–6. Google providers and the facade's aws-iam login: see bench/tokens-multicloud.ts.
 *
 * Environment: BENCH_TOKENS_WARM (default 20000), BENCH_TOKENS_CHURN_MS (default 6000), BENCH_TOKENS_LOGINS (default 20000).
 */
import { GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { GetWebIdentityTokenCommand } from '@aws-sdk/client-sts';
import { createCredentialServices, type CredentialServices } from '../src/credentials';
import { AwsStandIn, standInCredentials } from '../testing/aws';
import { awsIamRows, googleRows } from './tokens-multicloud';
import { pct, timed } from './timing';

const KEYS = 10;
const CONCURRENT = 1000;
const hosts = Array.from({ length: KEYS }, (_, i) => `${String(100000000000 + i)}.dkr.ecr.eu-west-1.amazonaws.com`);
const audiences = Array.from({ length: KEYS }, (_, i) => [`https://registry-${i}.example`]);

function services(aws: AwsStandIn, cache = {}): CredentialServices {
  return createCredentialServices({
    aws: { region: 'eu-west-1', endpoints: { sts: aws.url, ecr: aws.url }, credentials: standInCredentials, maxAttempts: 1 },
    cache,
  });
}

type Row = [string, string, string, string];

async function concurrency(aws: AwsStandIn): Promise<Row[]> {
  const rows: Row[] = [];
  for (const kind of ['sts-jwt', 'ecr'] as const) {
    aws.reset();
    const s = services(aws);
    await Promise.all(Array.from({ length: CONCURRENT }, (_, i) =>
      kind === 'ecr' ? s.ecr.get(hosts[i % KEYS]) : s.jwts.get({ audiences: audiences[i % KEYS] })));
    const cached = aws.calls();
    s.close();
    aws.reset();
    const raw = services(aws);
    await Promise.all(Array.from({ length: CONCURRENT }, (_, i) =>
      kind === 'ecr'
        ? raw.clients.ecr('eu-west-1').send(new GetAuthorizationTokenCommand({}))
        : raw.clients.sts().send(new GetWebIdentityTokenCommand({ Audience: audiences[i % KEYS], SigningAlgorithm: 'RS256' }))));
    const uncached = aws.calls();
    raw.close();
    if (cached !== KEYS) throw new Error(`${kind}: ${cached} AWS calls for ${KEYS} keys`);
    rows.push([`AWS calls, ${CONCURRENT} concurrent resolutions over ${KEYS} keys (${kind})`, String(cached), `${uncached} (no cache)`, `${(uncached / cached).toFixed(0)}× fewer`]);
  }
  return rows;
}

async function latency(aws: AwsStandIn, n: number): Promise<Row[]> {
  aws.reset();
  const s = services(aws);
  for (const a of audiences) await s.jwts.get({ audiences: a });
  for (const h of hosts) await s.ecr.get(h);
  const warm = await timed(n, (i) => (i % 2 ? s.ecr.get(hosts[i % KEYS]) : s.jwts.get({ audiences: audiences[i % KEYS] })));
  const sts = s.clients.sts();
  const direct = await timed(Math.min(n, 500), (i) => sts.send(new GetWebIdentityTokenCommand({ Audience: audiences[i % KEYS], SigningAlgorithm: 'RS256' })));
  s.close();
  const ms = (v: number) => `${v.toFixed(3)} ms`;
  return [
    ['warm resolution p50', ms(pct(warm, 50)), `${ms(pct(direct, 50))} (AWS every time)`, `${(pct(direct, 50) / pct(warm, 50)).toFixed(0)}× faster`],
    ['warm resolution p99 (target < 1 ms)', ms(pct(warm, 99)), `${ms(pct(direct, 99))} (AWS every time)`, `${(pct(direct, 99) / pct(warm, 99)).toFixed(0)}× faster`],
  ];
}

/** The alternative for scenario 3: refresh synchronously inside the skew, share in-flight calls, no stale fallback. */
function lazyCache(mint: (key: string) => Promise<{ expiresAt: Date }>, skewMs: number) {
  const tokens = new Map<string, { expiresAt: Date }>();
  const flights = new Map<string, Promise<{ expiresAt: Date }>>();
  return async (key: string) => {
    const t = tokens.get(key);
    if (t && Date.now() + skewMs < t.expiresAt.getTime()) return t;
    let f = flights.get(key);
    if (!f) {
      f = mint(key).then((v) => (tokens.set(key, v), v)).finally(() => flights.delete(key));
      flights.set(key, f);
    }
    return f;
  };
}

/** Resolutions (20 workers) for `ms` while the stand-in fails half its calls; counts failures while a valid token existed. */
async function churn(aws: AwsStandIn, resolve: (key: string) => Promise<{ expiresAt: Date }>, ms: number) {
  const valid = new Map<string, number>();
  for (const h of hosts) valid.set(h, (await resolve(h)).expiresAt.getTime());
  aws.failRate(0.5);
  const stats = { ok: 0, failedWhileValid: 0, failedNoValid: 0 };
  const end = Date.now() + ms;
  await Promise.all(Array.from({ length: 20 }, async (_, w) => {
    for (let i = w; Date.now() < end; i++) {
      const key = hosts[i % KEYS];
      try {
        const t = await resolve(key);
        if (t.expiresAt.getTime() <= Date.now()) throw new Error('expired token served');
        valid.set(key, Math.max(valid.get(key) ?? 0, t.expiresAt.getTime()));
        stats.ok++;
      } catch (err) {
        if ((err as Error).message === 'expired token served') throw err;
        if ((valid.get(key) ?? 0) > Date.now()) stats.failedWhileValid++;
        else stats.failedNoValid++;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  }));
  aws.failRate(0);
  return stats;
}

async function staleWhileValid(ms: number): Promise<Row[]> {
  const aws = await AwsStandIn.start({ ecrTtlSeconds: 2 });
  try {
    const s = services(aws, { backoffInitialMs: 20, backoffMaxMs: 200 });
    const ours = await churn(aws, (h) => s.ecr.get(h), ms);
    const callsOurs = aws.calls();
    s.close();
    aws.reset();
    const raw = services(aws);
    const lazy = lazyCache(async () => {
      const out = await raw.clients.ecr('eu-west-1').send(new GetAuthorizationTokenCommand({}));
      return { expiresAt: out.authorizationData![0].expiresAt! };
    }, 1000);
    const theirs = await churn(aws, lazy, ms);
    raw.close();
    const total = (x: typeof ours) => x.ok + x.failedWhileValid + x.failedNoValid;
    if (ours.failedWhileValid > 0) throw new Error(`${ours.failedWhileValid} resolutions failed while a valid token existed`);
    return [
      [`resolutions failed while a valid token existed (AWS failing 50%, 2 s tokens, ${ms / 1000} s)`, `${ours.failedWhileValid} of ${total(ours)}`, `${theirs.failedWhileValid} of ${total(theirs)} (lazy refresh, no stale)`, ''],
      ['resolutions failed with no valid token left', `${ours.failedNoValid}`, `${theirs.failedNoValid}`, `AWS calls: ${callsOurs} vs ${aws.calls()}`],
    ];
  } finally {
    await aws.close();
  }
}

async function main(): Promise<void> {
  const aws = await AwsStandIn.start();
  let rows: Row[];
  try {
    rows = [...(await concurrency(aws)), ...(await latency(aws, Number(process.env.BENCH_TOKENS_WARM ?? 20_000)))];
  } finally {
    await aws.close();
  }
  rows.push(...(await staleWhileValid(Number(process.env.BENCH_TOKENS_CHURN_MS ?? 6000))));
  rows.push(...(await googleRows(Number(process.env.BENCH_TOKENS_WARM ?? 20_000))));
  rows.push(...(await awsIamRows(Number(process.env.BENCH_TOKENS_LOGINS ?? 20_000))));
  const header: Row = ['scenario', 'imagegate token cache', 'alternative', 'ratio'];
  const widths = header.map((_, c) => Math.max(...[header, ...rows].map((r) => r[c].length)));
  const line = (r: Row) => `| ${r.map((v, c) => v.padEnd(widths[c])).join(' | ')} |`;
  console.log([line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n'));
}

main().catch((err) => {
  console.error(`bench:tokens failed: ${(err as Error).message}`);
  process.exit(1);
});
