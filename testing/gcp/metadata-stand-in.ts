import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

/** The access token the stand-in hands out unless told otherwise. The test Artifact-Registry-like registry accepts only the current one. */
export const STANDIN_GCP_ACCESS_TOKEN = 'ya29.imagegate-standin-access-token';
export const STANDIN_GCP_PROJECT = 'imagegate-test';
export const STANDIN_GCP_PROJECT_NUMBER = '123456789012';
export const STANDIN_GCP_ZONE = 'europe-west1-b';
export const STANDIN_GCP_INSTANCE = 'gke-pool-1-node-a';
export const STANDIN_GCP_SA = `123456789012-compute@developer.gserviceaccount.com`;
/** `sub` and `azp` of the service account's ID tokens (Google's numeric unique id). */
export const STANDIN_GCP_SA_ID = '104680946353927812345';
/** Issuer of Google-signed ID tokens. */
export const GOOGLE_ISSUER = 'https://accounts.google.com';

export interface MetadataStandInOptions {
  /** Lifetime of access tokens (seconds). Default 3599, as GCE answers. */
  tokenTtlSeconds?: number;
  /** Lifetime of ID tokens (seconds). Default 3600. */
  idTokenTtlSeconds?: number;
  /** Clock, epoch ms. Default Date.now. */
  now?: () => number;
}

/**
 * A loopback GCE metadata server speaking the real v1 protocol, as documented
 * for Compute Engine and GKE nodes (cloud.google.com/compute/docs/metadata,
 * behaviour of 2025), for the clients imagegate uses — google-auth-library
 * 10.9 and gcp-metadata 8.1 — pointed at it with GCE_METADATA_HOST:
 *
 * - every request must carry `Metadata-Flavor: Google` (else 403) and must not
 *   carry `X-Forwarded-For` (else 403, as the real server refuses proxied
 *   requests); every answer carries `Metadata-Flavor: Google`, which
 *   gcp-metadata insists on;
 * - `instance/service-accounts/default/token[?scopes=a,b]` → JSON
 *   `{access_token, expires_in, token_type: "Bearer"}`; like GCE, the same
 *   token is answered until it is about to expire (`expires_in` counts down);
 * - `instance/service-accounts/default/identity?audience=…[&format=full]` →
 *   a Google-signed RS256 JWT as text (400 without an audience), `iss`
 *   https://accounts.google.com, `email`, `sub`/`azp` the account's numeric id,
 *   and with `format=full` the `google.compute_engine` claims (project_id,
 *   project_number, zone, instance_id, instance_name, instance_creation_timestamp);
 * - `project/project-id`, `project/numeric-project-id`, `instance/zone`,
 *   `instance/name`, `instance/id`, `instance/service-accounts/default/email`;
 * - Google's certificates as JWKS at `/oauth2/v3/certs` (what
 *   www.googleapis.com/oauth2/v3/certs serves), key id `kid` in every token.
 *
 * `stop()` makes it unreachable (connection refused) and `start()` brings it
 * back on the same port, for the "metadata server down" cases.
 */
export class MetadataStandIn {
  /** `127.0.0.1:<port>`, the value for GCE_METADATA_HOST. */
  readonly host: string;
  /** `http://127.0.0.1:<port>/oauth2/v3/certs`. */
  readonly jwksUrl: string;
  /** The access token currently handed out; set it to rotate. */
  accessToken = STANDIN_GCP_ACCESS_TOKEN;
  /** Requests by path (`instance/service-accounts/default/token` …), refused ones included. */
  readonly counts = new Map<string, number>();
  /** Every ID token minted, oldest first (the last 1,000). */
  readonly idTokens: string[] = [];

  private server: http.Server;
  private tokenIssuedAt = 0;
  private tokenValue = '';
  private failures = 0;

  private constructor(
    private readonly port: number,
    server: http.Server,
    private readonly keys: { kid: string; privateKey: PrivateKey; jwk: JWK },
    private readonly options: MetadataStandInOptions,
  ) {
    this.server = server;
    this.host = `127.0.0.1:${port}`;
    this.jwksUrl = `http://${this.host}/oauth2/v3/certs`;
    this.attach(server);
  }

  static async start(options: MetadataStandInOptions = {}): Promise<MetadataStandIn> {
    const pair = await generateKeyPair('RS256', { modulusLength: 2048 });
    const kid = 'standin-google-' + Math.random().toString(16).slice(2, 10);
    const jwk = { ...(await exportJWK(pair.publicKey)), kid, alg: 'RS256', use: 'sig' };
    const server = http.createServer();
    await listen(server, 0);
    const { port } = server.address() as AddressInfo;
    return new MetadataStandIn(port, server, { kid, privateKey: pair.privateKey, jwk }, options);
  }

  /** Number of requests for `path` (relative to /computeMetadata/v1/), or all. */
  calls(path?: string): number {
    if (path) return this.counts.get(path) ?? 0;
    return [...this.counts.values()].reduce((a, b) => a + b, 0);
  }

  /** The next `times` token and identity requests answer 503. */
  failNext(times = 1): void {
    this.failures += times;
  }

  reset(): void {
    this.counts.clear();
    this.idTokens.length = 0;
    this.failures = 0;
    this.tokenValue = '';
  }

  /** Stops listening: clients get connection refused. */
  async stop(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Listens again on the same port. */
  async restart(): Promise<void> {
    if (this.server.listening) return;
    this.server = http.createServer();
    this.attach(this.server);
    await listen(this.server, this.port);
  }

  close(): Promise<void> {
    return this.stop();
  }

  /** Signs a token with the stand-in's Google key: for tests that need a token the metadata server would never mint (expired, other audience). */
  sign(payload: Record<string, unknown>, header: { alg?: string; kid?: string } = {}): Promise<string> {
    return new SignJWT(payload)
      .setProtectedHeader({ alg: 'RS256', kid: this.keys.kid, typ: 'JWT', ...header })
      .sign(this.keys.privateKey);
  }

  /** The claims of an ID token for `audience`, as GCE mints them. */
  idClaims(audience: string, full = true): Record<string, unknown> {
    const iat = Math.floor(this.now() / 1000);
    return {
      aud: audience,
      azp: STANDIN_GCP_SA_ID,
      email: STANDIN_GCP_SA,
      email_verified: true,
      exp: iat + (this.options.idTokenTtlSeconds ?? 3600),
      iat,
      iss: GOOGLE_ISSUER,
      sub: STANDIN_GCP_SA_ID,
      ...(full
        ? {
            google: {
              compute_engine: {
                instance_creation_timestamp: 1764547200,
                instance_id: '4917203947812345678',
                instance_name: STANDIN_GCP_INSTANCE,
                project_id: STANDIN_GCP_PROJECT,
                project_number: Number(STANDIN_GCP_PROJECT_NUMBER),
                zone: STANDIN_GCP_ZONE,
              },
            },
          }
        : {}),
    };
  }

  private attach(server: http.Server): void {
    server.on('request', (req, res) => {
      this.handle(req, res).catch(() => res.headersSent || res.writeHead(500, flavor('text/plain')).end('internal error'));
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${this.host}`);
    if (url.pathname === '/oauth2/v3/certs') {
      return void res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify({ keys: [this.keys.jwk] }));
    }
    const base = '/computeMetadata/v1/';
    const path = url.pathname.startsWith(base) ? url.pathname.slice(base.length).replace(/\/$/, '') : url.pathname;
    this.counts.set(path, (this.counts.get(path) ?? 0) + 1);
    if (req.headers['x-forwarded-for'] !== undefined) return forbidden(res, 'Request had an X-Forwarded-For header and was rejected.');
    if (req.headers['metadata-flavor'] !== 'Google') return forbidden(res, 'Missing required header "Metadata-Flavor": "Google"');
    if (req.method !== 'GET') return void res.writeHead(405, flavor('text/html')).end('Method not allowed');
    const text = (body: string, type = 'application/text') => void res.writeHead(200, flavor(type)).end(body);
    const isToken = path === 'instance/service-accounts/default/token' || path === `instance/service-accounts/${STANDIN_GCP_SA}/token`;
    const isIdentity = path === 'instance/service-accounts/default/identity' || path === `instance/service-accounts/${STANDIN_GCP_SA}/identity`;
    if ((isToken || isIdentity) && this.failures > 0) {
      this.failures -= 1;
      return void res.writeHead(503, flavor('text/plain')).end('Service Unavailable');
    }
    if (isToken) return text(JSON.stringify(this.token()), 'application/json');
    if (isIdentity) {
      const audience = url.searchParams.get('audience');
      if (!audience) return void res.writeHead(400, flavor('text/html')).end('non-empty audience parameter required');
      const jwt = await this.sign(this.idClaims(audience, url.searchParams.get('format') === 'full'));
      if (this.idTokens.push(jwt) > 1000) this.idTokens.shift();
      return text(jwt, 'text/html; charset=utf-8');
    }
    switch (path) {
      case 'project/project-id':
        return text(STANDIN_GCP_PROJECT);
      case 'project/numeric-project-id':
        return text(STANDIN_GCP_PROJECT_NUMBER);
      case 'instance/zone':
        return text(`projects/${STANDIN_GCP_PROJECT_NUMBER}/zones/${STANDIN_GCP_ZONE}`);
      case 'instance/name':
        return text(STANDIN_GCP_INSTANCE);
      case 'instance/id':
        return text('4917203947812345678');
      case 'instance/service-accounts/default/email':
        return text(STANDIN_GCP_SA);
      case 'instance':
        return text('attributes/\nhostname\nid\nname\nservice-accounts/\nzone\n');
      case 'instance/service-accounts':
        return text(`default/\n${STANDIN_GCP_SA}/\n`);
    }
    res.writeHead(404, flavor('text/html')).end('Not Found');
  }

  /** GCE answers the same token until it has under 5 minutes (or half its life) left, with `expires_in` counting down. */
  private token() {
    const ttl = this.options.tokenTtlSeconds ?? 3599;
    const now = this.now();
    const left = this.tokenIssuedAt + ttl * 1000 - now;
    if (this.tokenValue !== this.accessToken || left < Math.min(300_000, (ttl * 1000) / 2)) {
      this.tokenValue = this.accessToken;
      this.tokenIssuedAt = now;
    }
    const expiresIn = Math.floor((this.tokenIssuedAt + ttl * 1000 - now) / 1000);
    return { access_token: this.tokenValue, expires_in: expiresIn, token_type: 'Bearer' };
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}

function flavor(type: string): Record<string, string> {
  return { 'metadata-flavor': 'Google', 'content-type': type, server: 'Metadata Server for VM', 'x-xss-protection': '0', 'x-frame-options': 'SAMEORIGIN' };
}

function forbidden(res: http.ServerResponse, why: string): void {
  res.writeHead(403, flavor('text/html; charset=UTF-8')).end(`<!DOCTYPE html><html><body><p><b>403.</b> ${why}</p></body></html>`);
}

function listen(server: http.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}
