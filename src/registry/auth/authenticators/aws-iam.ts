import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { duration } from '../../../config/duration';
import { AWS_IAM_AUDIENCE_HEADER, AWS_IAM_TOKEN_PREFIX, decodeAwsIamToken, regionalStsHost } from '../../../credentials/aws-iam-token';
import { compileGlob } from '../../access/glob';
import { createAgents, readSmall, send } from '../../upstream/http-client';
import type { AuthDecision, Authenticator, AuthenticatorEnv, AuthenticatorFactory, ClientCredentials, Identity } from '../authenticator';
import { checkPresigned } from './aws-iam-request';
import { trustedUrl } from './options';

const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be an AWS region such as eu-west-1');

/** The options of this authenticator (docs/configuration.md checks its keys against them). */
export const schema = z
  .strictObject({
    /** The audience header value every token must have signed (what the nodes' `aws-iam` provider sends). */
    audience: z.string().min(1).max(1000),
    /** The signed audience header. Default `x-imagegate-audience`. */
    header: z.string().regex(/^x-[a-z0-9-]+$/, 'must be a lower-case header name starting with x-').default(AWS_IAM_AUDIENCE_HEADER),
    /** Regions whose STS host (`sts.<region>.amazonaws.com`) tokens may name. */
    regions: z.array(region).default([]),
    /** More STS hosts tokens may name (`sts.amazonaws.com`, FIPS hosts). Default none. */
    stsHosts: z.array(z.string().regex(/^[a-z0-9.-]+$/, 'a host name such as sts-fips.us-east-1.amazonaws.com')).default([]),
    /** Send every replay here instead of `https://<the token's STS host>` (a VPC endpoint; tests). The Host header stays the STS host. */
    endpoint: trustedUrl().optional(),
    /** Accounts allowed in. Default: any account whose signature STS accepts. */
    accounts: z.array(z.string().regex(/^\d{12}$/, 'a 12-digit AWS account id')).min(1).optional(),
    /** Groups by ARN glob (`**` crosses `/`) or account, as the facade's rules write globs. Default none. */
    groups: z
      .array(z.strictObject({ arn: z.string().min(1).optional(), account: z.string().regex(/^\d{12}$/).optional(), groups: z.array(z.string().min(1)).min(1) }))
      .default([]),
    /** Longest presigned lifetime (X-Amz-Expires) accepted. Default 15m, at most 1h. */
    maxLifetime: duration('15m').refine((ms) => ms >= 1000 && ms <= 3_600_000, 'must be between 1s and 1h'),
    /** How far in the future X-Amz-Date may be. Default 5m. */
    clockSkew: duration('5m'),
    /** Timeout of one STS call. Default 5s. */
    timeout: duration('5s'),
    /** Verified presigned requests remembered (until each expires). Default 10000. */
    cacheSize: z.number().int().min(1).default(10_000),
  })
  .refine((o) => o.regions.length + o.stsHosts.length > 0, { message: 'give regions or stsHosts: the STS hosts tokens may name', path: ['regions'] });

/** The identity STS vouched for. */
interface Caller {
  arn: string;
  account: string;
  userId: string;
}

/** A refusal that ends in deny; its reason never holds the token. */
class Refused extends Error {}

/**
 * `aws-iam`: the Basic password (or bearer token) is a presigned
 * `sts:GetCallerIdentity` request (the `aws-iam` provider's token, as
 * aws-iam-authenticator and Vault's `aws` method use). It is checked locally
 * (checkPresigned), then replayed — only to a configured STS host, or the
 * configured endpoint, never a host taken from the token — with the
 * configured audience header value, so STS verifies the signature over it.
 * The answered ARN becomes the identity, an assumed-role session normalised
 * to its role (`arn:aws:iam::<account>:role/<name>`); `account`, `arn`,
 * `callerArn`, `userId` and `sessionName` become claims; groups come from
 * `groups`. A token of another kind → abstain; anything wrong, or STS
 * unreachable → deny. Verified identities are kept per presigned request
 * until it expires, and concurrent logins with one request share one STS call.
 */
export const awsIamAuthenticator: AuthenticatorFactory<Params> = { name: 'aws-iam', params: schema, create: createAwsIam };

type Params = z.output<typeof schema>;

function createAwsIam(o: Params, env: AuthenticatorEnv) {
  const hosts = new Set([...o.regions.map(regionalStsHost), ...o.stsHosts.map((h) => h.toLowerCase())]);
  const groupRules = o.groups.map((g) => ({ arn: g.arn === undefined ? undefined : compileGlob(g.arn), account: g.account, groups: g.groups }));
  const agents = createAgents(64);
  const verified = new LRUCache<string, Caller, { host: string; query: string; expiresAt: number }>({
    max: o.cacheSize,
    fetchMethod: async (_key, _stale, { options: fetchOptions, context }) => {
      const caller = await replay(context.host, context.query);
      fetchOptions.ttl = Math.max(1, Math.floor(context.expiresAt - Date.now()));
      return caller;
    },
  });

  async function replay(host: string, query: string): Promise<Caller> {
    const base = o.endpoint ? new URL(o.endpoint) : new URL(`https://${host}`);
    const url = new URL(`${base.pathname.replace(/\/$/, '')}/?${query}`, base);
    const headers = { host, [o.header]: o.audience, accept: 'application/json', 'user-agent': 'imagegate-aws-iam' };
    let status: number;
    let body: Buffer;
    try {
      const res = await send(url, { method: 'GET', headers, timeoutMs: o.timeout, agents }, 'sts');
      status = res.statusCode ?? 0;
      body = await readSmall(res, 16 * 1024);
    } catch (err) {
      env.logger.warn('STS unreachable', { host, error: (err as { details?: { reason?: string } }).details?.reason ?? (err as Error).message });
      throw new Refused('STS unreachable');
    }
    const doc = parse(body);
    if (status !== 200) throw new Refused(`STS refused the request (${status} ${errorCode(doc)})`);
    const result = (doc as { GetCallerIdentityResponse?: { GetCallerIdentityResult?: Record<string, unknown> } })?.GetCallerIdentityResponse?.GetCallerIdentityResult;
    const { Arn: arn, Account: account, UserId: userId } = result ?? {};
    if (typeof arn !== 'string' || typeof account !== 'string' || typeof userId !== 'string') throw new Refused('STS answered without an identity');
    if (arnAccount(arn) !== account) throw new Refused('STS answered an ARN of another account');
    return { arn, account, userId };
  }

  function identityOf(caller: Caller): Identity {
    const { arn, sessionName } = canonicalArn(caller.arn);
    const groups = new Set<string>();
    for (const rule of groupRules) {
      if (rule.arn && !rule.arn.test(arn)) continue;
      if (rule.account && rule.account !== caller.account) continue;
      rule.groups.forEach((g) => groups.add(g));
    }
    const claims: Record<string, unknown> = { arn, callerArn: caller.arn, account: caller.account, userId: caller.userId };
    if (sessionName) claims.sessionName = sessionName;
    return { name: arn, groups: [...groups], claims, authenticator: env.name };
  }

  return {
    name: env.name,
    async authenticate(credentials: ClientCredentials): Promise<AuthDecision> {
      const token = credentials.kind === 'basic' ? credentials.password.reveal() : credentials.token.reveal();
      if (!token.startsWith(AWS_IAM_TOKEN_PREFIX)) return { kind: 'abstain' };
      const presigned = decodeAwsIamToken(token);
      if (presigned === undefined) return { kind: 'deny', reason: 'malformed token' };
      const checked = checkPresigned(presigned, { hosts, header: o.header, maxLifetimeMs: o.maxLifetime, clockSkewMs: o.clockSkew, now: Date.now() });
      if ('refused' in checked) return { kind: 'deny', reason: `presigned request refused: ${checked.refused}` };
      const key = createHash('sha256').update(`${checked.host}\n${checked.query}`).digest('base64url');
      let caller: Caller | undefined;
      try {
        caller = await verified.fetch(key, { context: checked });
      } catch (err) {
        return { kind: 'deny', reason: err instanceof Refused ? err.message : 'verification failed' };
      }
      if (!caller) return { kind: 'deny', reason: 'verification failed' };
      if (o.accounts && !o.accounts.includes(caller.account)) return { kind: 'deny', reason: `account ${caller.account} is not allowed` };
      return { kind: 'allow', identity: identityOf(caller) };
    },
    async close() {
      verified.clear();
      agents.http.destroy();
      agents.https.destroy();
    },
  } satisfies Authenticator;
}

/**
 * `arn:aws:sts::<account>:assumed-role/<role>/<session>` → the role's ARN
 * (`arn:aws:iam::<account>:role/<role>`; STS does not say the role's path,
 * so a role with a path is named without it, as aws-iam-authenticator does)
 * and the session name; other ARNs are kept.
 */
export function canonicalArn(arn: string): { arn: string; sessionName?: string } {
  const m = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/(.+)$/.exec(arn);
  if (!m) return { arn };
  return { arn: `arn:${m[1]}:iam::${m[2]}:role/${m[3]}`, sessionName: m[4] };
}

function arnAccount(arn: string): string | undefined {
  return /^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):/.exec(arn)?.[1];
}

function parse(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function errorCode(doc: unknown): string {
  const code = (doc as { Error?: { Code?: unknown } } | undefined)?.Error?.Code;
  return typeof code === 'string' ? code.slice(0, 64) : 'no error code';
}
