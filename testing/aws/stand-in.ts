import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ecrError, ecrGetAuthorizationToken, ecrPublicGetAuthorizationToken, ECR_PUBLIC_TARGET, ECR_TARGET } from './ecr';
import { AwsFault, faultOf } from './fault';
import { SigningKeys } from './keys';
import { callerIdentity, callerIdentityAnswer, jsonError, verifyPresigned } from './presigned';
import { Principals, type Principal } from './principals';
import { checkScope, looksLikeRegion, signatureMatches } from './sigv4';
import { stsAction, stsError } from './sts';
import { WebIdentityTrust, type OidcProvider } from './web-identity';

/** The password inside every ECR token the stand-in hands out, unless told otherwise. CI's 5002 registry accepts only it. */
export const STANDIN_ECR_PASSWORD = 'imagegate-standin-ecr-password';
/** Static test credentials (signatures verified). Other key ids are accepted on their scope alone and belong to the default principal too. */
export const STANDIN_ACCESS_KEY_ID = 'AKIAIMAGEGATESTANDIN';
export const STANDIN_SECRET_ACCESS_KEY = 'imagegate-standin-secret-access-key';
export const STANDIN_ACCOUNT = '111122223333';
export const STANDIN_NODE_ROLE = `arn:aws:iam::${STANDIN_ACCOUNT}:role/imagegate-node`;

export interface StandInOptions {
  /** Password inside ECR tokens. Default STANDIN_ECR_PASSWORD. */
  ecrPassword?: string;
  /** ECR token lifetime in seconds. Default 43200 (12 h, as AWS). */
  ecrTtlSeconds?: number;
  /** Principal of keys the stand-in did not issue. Default the node role in STANDIN_ACCOUNT. */
  principal?: Principal;
  /** Regions accepted in the SigV4 scope. Default any region-shaped name (never `aws-global`). */
  regions?: string[];
  /** Clock, epoch ms. Default Date.now. */
  now?: () => number;
}

/** One request as the stand-in saw it. */
export interface SeenRequest {
  /** `sts:GetWebIdentityToken`, `ecr:GetAuthorizationToken`, `ecr-public:GetAuthorizationToken`. */
  action: string;
  region: string;
  accessKeyId: string;
  principal: string;
  /** The error code answered, if any. */
  error?: string;
}

/**
 * A loopback AWS that speaks the real wire protocols — STS Query (XML) and ECR /
 * ECR Public JSON 1.1 — so the real SDK v3 clients run end to end against it.
 * Requests need a SigV4 Authorization header scoped to the right service and
 * region; signatures by the stand-in's own keys are verified in full.
 * Presigned `GetCallerIdentity` GETs (aws-iam-authenticator / Vault `aws` style)
 * are verified from the query string as STS does (presigned.ts). JWTs are
 * signed with real RSA and P-384 keys published at `/.well-known/jwks.json`;
 * the issuer is the stand-in's own URL.
 */
export class AwsStandIn {
  /** `http://127.0.0.1:<port>`; use as the SDK `endpoint` or AWS_ENDPOINT_URL_STS / _ECR / _ECR_PUBLIC. */
  readonly url: string;
  /** Issuer (`iss`) of every JWT, with discovery at `<issuer>/.well-known/openid-configuration`. */
  readonly issuer: string;
  readonly jwksUrl: string;
  readonly ecrPassword: string;
  /** Every request, oldest first (the last 10,000). */
  readonly requests: SeenRequest[] = [];
  /** Every JWT minted, oldest first (the last 1,000). */
  readonly jwts: string[] = [];

  private readonly failures: { code: string; action?: string }[] = [];
  private failEvery = { rate: 0, code: 'ServiceUnavailable', acc: 0 };
  private delayMs = 0;
  private readonly principals: Principals;
  private readonly webIdentity = new WebIdentityTrust();

  private constructor(
    private readonly server: http.Server,
    private readonly keys: SigningKeys,
    private readonly options: StandInOptions,
  ) {
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    this.issuer = this.url;
    this.jwksUrl = `${this.url}/.well-known/jwks.json`;
    this.ecrPassword = options.ecrPassword ?? STANDIN_ECR_PASSWORD;
    this.principals = new Principals(options.principal ?? { arn: STANDIN_NODE_ROLE, account: STANDIN_ACCOUNT }, {
      [STANDIN_ACCESS_KEY_ID]: STANDIN_SECRET_ACCESS_KEY,
    });
    server.on('request', (req, res) => void this.handle(req, res));
  }

  /** Starts a stand-in on 127.0.0.1 with an ephemeral port. */
  static async start(options: StandInOptions = {}): Promise<AwsStandIn> {
    const keys = await SigningKeys.generate();
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new AwsStandIn(server, keys, options);
  }

  /** Number of requests for `action` (`sts:GetWebIdentityToken` …), failed ones included; all actions when omitted. */
  calls(action?: string): number {
    return action ? this.requests.filter((r) => r.action === action).length : this.requests.length;
  }

  /** The next `times` requests (for `action`, or any) fail with AWS error `code`. */
  failNext(code: string, times = 1, action?: string): void {
    for (let i = 0; i < times; i++) this.failures.push({ code, action });
  }

  /** From now on a fraction `rate` (0–1) of requests fail with `code`, spread evenly (deterministic). 0 stops it. */
  failRate(rate: number, code = 'ServiceUnavailable'): void {
    this.failEvery = { rate, code, acc: 0 };
  }

  /** Every answer waits `ms` first. */
  delay(ms: number): void {
    this.delayMs = ms;
  }

  /** Trusts an OIDC issuer for AssumeRoleWithWebIdentity (IAM CreateOpenIDConnectProvider + role trust policies). */
  trustOidcProvider(provider: OidcProvider): void {
    this.webIdentity.trust(provider);
  }

  /** Forgets recorded requests and pending failures. */
  reset(): void {
    this.requests.length = 0;
    this.jwts.length = 0;
    this.failures.length = 0;
    this.failRate(0);
    this.delayMs = 0;
  }

  /** Environment for an SDK client (or a child process) to reach the stand-in with static test keys. */
  env(region = 'us-east-1'): Record<string, string> {
    return {
      AWS_ACCESS_KEY_ID: STANDIN_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: STANDIN_SECRET_ACCESS_KEY,
      AWS_REGION: region,
      AWS_ENDPOINT_URL_STS: this.url,
      AWS_ENDPOINT_URL_ECR: this.url,
      AWS_ENDPOINT_URL_ECR_PUBLIC: this.url,
    };
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > 1_000_000) return void res.writeHead(413).end();
      chunks.push(chunk as Buffer);
    }
    const body = Buffer.concat(chunks).toString('utf8');
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/.well-known/openid-configuration') return json(res, 200, this.discovery());
    if (req.method === 'GET' && path === '/.well-known/jwks.json') return json(res, 200, this.keys.jwks());
    if (req.method === 'GET' && path === '/' && /[?&]X-Amz-Signature=/.test(req.url ?? '')) return this.presigned(req, res);
    if (req.method !== 'POST' || path !== '/') return json(res, 404, { message: 'not found' });
    const target = req.headers['x-amz-target'];
    if (typeof target === 'string') return this.json11(req, res, target, body);
    return this.query(req, res, body);
  }

  private async query(req: http.IncomingMessage, res: http.ServerResponse, body: string): Promise<void> {
    const params = new URLSearchParams(body);
    // Query-string parameters count too (google-auth-library signs GetCallerIdentity as a POST to ?Action=…).
    for (const [k, v] of new URL(req.url ?? '/', 'http://stand-in').searchParams) if (!params.has(k)) params.append(k, v);
    const action = `sts:${params.get('Action') ?? ''}`;
    const xml = (status: number, text: string) => res.writeHead(status, { 'content-type': 'text/xml' }).end(text);
    if (action === 'sts:AssumeRoleWithWebIdentity') return this.assumeWithWebIdentity(params, xml);
    const seen = this.record(action, req, 'sts', body);
    try {
      if (!seen.scope) throw seen.fault;
      if (params.get('Version') !== '2011-06-15') throw faultOf('InvalidParameterValue', 'Version must be 2011-06-15');
      this.injectedFault(action);
      const principal = this.principals.of(seen.scope.accessKeyId);
      const now = this.now();
      xml(200, await stsAction(action.slice(4), {
        params, principal, region: seen.scope.region, now, issuer: this.issuer, keys: this.keys, principals: this.principals,
        onJwt: (jwt) => this.jwts.push(jwt) > 1000 && this.jwts.shift(),
      }));
    } catch (err) {
      const fault = asFault(err);
      seen.entry.error = fault.code;
      xml(fault.status, stsError(fault));
    }
  }

  /**
   * A presigned GET (aws-iam-authenticator / Vault `aws` style): only
   * GetCallerIdentity, verified by verifyPresigned; answers JSON to
   * `Accept: application/json` (as STS does), XML otherwise. The caller of a
   * role is its assumed-role session (`i-0standin` for the node role).
   */
  private presigned(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const action = `sts:${url.searchParams.get('Action') ?? ''}`;
    const wantsJson = String(req.headers.accept ?? '').includes('application/json');
    const entry: SeenRequest = { action, region: '', accessKeyId: '', principal: '' };
    if (this.requests.push(entry) > 10_000) this.requests.shift();
    const send = (status: number, body: string) => res.writeHead(status, { 'content-type': wantsJson ? 'application/json' : 'text/xml' }).end(body);
    try {
      if (action !== 'sts:GetCallerIdentity') throw new AwsFault('InvalidAction', 400, `Could not find operation ${action.slice(4)} for version 2011-06-15`);
      if (url.searchParams.get('Version') !== '2011-06-15') throw faultOf('InvalidParameterValue', 'Version must be 2011-06-15');
      const regionOk = (r: string) => (this.options.regions ? this.options.regions.includes(r) : looksLikeRegion(r));
      const caller = verifyPresigned({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers }, this.principals, regionOk, this.now());
      Object.assign(entry, { region: caller.region, accessKeyId: caller.accessKeyId, principal: caller.principal.arn });
      this.injectedFault(action);
      const session = caller.accessKeyId === STANDIN_ACCESS_KEY_ID ? 'i-0standin' : 'imagegate';
      send(200, callerIdentityAnswer(callerIdentity(caller.principal, session), wantsJson));
    } catch (err) {
      const fault = asFault(err);
      entry.error = fault.code;
      send(fault.status, wantsJson ? jsonError(fault) : stsError(fault));
    }
  }

  /** AssumeRoleWithWebIdentity is unsigned: the token is the credential. Recorded with the role as principal when it succeeds. */
  private async assumeWithWebIdentity(params: URLSearchParams, xml: (status: number, text: string) => void): Promise<void> {
    const entry: SeenRequest = { action: 'sts:AssumeRoleWithWebIdentity', region: '', accessKeyId: '', principal: '' };
    if (this.requests.push(entry) > 10_000) this.requests.shift();
    try {
      if (params.get('Version') !== '2011-06-15') throw faultOf('InvalidParameterValue', 'Version must be 2011-06-15');
      this.injectedFault(entry.action);
      const out = await this.webIdentity.assume(params, this.principals, this.now());
      entry.principal = out.roleArn;
      xml(200, out.xml);
    } catch (err) {
      const fault = asFault(err);
      entry.error = fault.code;
      xml(fault.status, stsError(fault));
    }
  }

  private json11(req: http.IncomingMessage, res: http.ServerResponse, target: string, body: string): void {
    const service = target === ECR_PUBLIC_TARGET ? 'ecr-public' : 'ecr';
    const action = `${service}:${target.split('.').pop() ?? ''}`;
    const seen = this.record(action, req, service, body);
    const send = (status: number, doc: unknown, type?: string) =>
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', ...(type ? { 'x-amzn-errortype': type } : {}) }).end(JSON.stringify(doc));
    try {
      if (!seen.scope) throw seen.fault;
      if (target !== ECR_TARGET && target !== ECR_PUBLIC_TARGET) throw faultOf('UnknownOperationException', `unknown target ${target}`);
      this.injectedFault(action);
      let parsed: unknown;
      try {
        parsed = body ? JSON.parse(body) : {};
      } catch {
        throw faultOf('SerializationException', 'body is not JSON');
      }
      const ctx = {
        body: parsed, principal: this.principals.of(seen.scope.accessKeyId), region: seen.scope.region, now: this.now(),
        password: this.ecrPassword, ttlSeconds: this.options.ecrTtlSeconds ?? 43_200,
      };
      send(200, service === 'ecr' ? ecrGetAuthorizationToken(ctx) : ecrPublicGetAuthorizationToken(ctx));
    } catch (err) {
      const fault = asFault(err);
      seen.entry.error = fault.code;
      send(fault.status, ecrError(fault), fault.code);
    }
  }

  /**
   * Records the request and checks its SigV4 scope; for keys the stand-in
   * knows (its static key, keys AssumeRole issued) the signature is recomputed
   * and must match. Other key ids only have their scope checked.
   */
  private record(action: string, req: http.IncomingMessage, service: string, body: string) {
    const regionOk = (r: string) => (this.options.regions ? this.options.regions.includes(r) : looksLikeRegion(r));
    const check = checkScope(req.headers.authorization, service, regionOk);
    let scope = check.ok ? check.scope : undefined;
    let fault = check.ok ? undefined : new AwsFault(check.code, check.code === 'IncompleteSignature' ? 400 : 403, check.message);
    const secret = scope && this.principals.secretOf(scope.accessKeyId);
    if (scope && secret && !signatureMatches({ method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers, body }, scope, secret)) {
      fault = new AwsFault('SignatureDoesNotMatch', 403, 'The request signature we calculated does not match the signature you provided.');
      scope = undefined;
    }
    const entry: SeenRequest = {
      action, region: scope?.region ?? '', accessKeyId: scope?.accessKeyId ?? '',
      principal: scope ? this.principals.of(scope.accessKeyId).arn : '',
    };
    if (this.requests.push(entry) > 10_000) this.requests.shift();
    return { entry, scope, fault };
  }

  /** Throws the failure the stand-in was told to produce for this request, if any. */
  private injectedFault(action: string): void {
    const i = this.failures.findIndex((f) => !f.action || f.action === action);
    if (i >= 0) throw faultOf(this.failures.splice(i, 1)[0].code);
    if (this.failEvery.rate > 0) {
      this.failEvery.acc += this.failEvery.rate;
      if (this.failEvery.acc >= 1) {
        this.failEvery.acc -= 1;
        throw faultOf(this.failEvery.code);
      }
    }
  }

  private discovery() {
    return {
      issuer: this.issuer,
      jwks_uri: this.jwksUrl,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256', 'ES384'],
    };
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}

function asFault(err: unknown): AwsFault {
  return err instanceof AwsFault ? err : new AwsFault('InternalFailure', 500, (err as Error)?.message ?? 'internal failure');
}

function json(res: http.ServerResponse, status: number, doc: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
}
