import { BoundedCache } from '../../lib/bounded-cache';
import { Secret } from '../../log/secret';
import { RegistryError } from '../errors';
import { type Challenge, parseChallenge } from './challenge';
import type { UpstreamCredentials, UpstreamSecret } from './credentials';
import { type Agents, readSmall, send } from './http-client';
import { realmMayReceiveCredentials } from './realm-policy';

interface CachedToken {
  token: Secret;
  expiresAt: number;
}

export interface UpstreamAuthOptions {
  upstream: string;
  registryUrl: URL;
  credentials: UpstreamCredentials;
  agents: Agents;
  timeoutMs: number;
  /** Token realms on other hosts (`host[:port]`) that may receive the credentials (see realm-policy.ts for the rest). */
  realmHosts?: string[];
  /** Most scopes whose tokens are kept. Default 1024. */
  maxTokens?: number;
}

/** Seconds a token is treated as expired early, so that it is not used at the edge. */
const EXPIRY_MARGIN_MS = 10_000;

/**
 * Authenticates the facade to one upstream, the way a Docker client does:
 * Basic until the upstream challenges, then the challenge's scheme; for
 * Bearer, a token from the realm per scope, cached until it expires and
 * fetched once when many requests need it at the same moment.
 */
export class UpstreamAuth {
  #challenge: Challenge | undefined;
  /** Tokens per (realm, service, scope), each until it expires; concurrent misses share one fetch. */
  readonly #tokens: BoundedCache<string, CachedToken>;

  constructor(private readonly options: UpstreamAuthOptions) {
    this.#tokens = new BoundedCache({ max: options.maxTokens ?? 1024 });
  }

  /** The `Authorization` value for a request needing `scope`, or undefined for none. */
  async header(scope: string): Promise<string | undefined> {
    const secret = await this.options.credentials();
    if (secret.kind === 'token') return `Bearer ${secret.token.reveal()}`;
    const challenge = this.#challenge;
    if (challenge?.scheme === 'bearer' && challenge.params.realm) {
      const token = await this.#token(challenge, scope, secret);
      return `Bearer ${token.token.reveal()}`;
    }
    if (secret.kind === 'password') return basic(secret.username, secret.password);
    return undefined;
  }

  /**
   * Learns from a 401 to a request sent with `sent` as its Authorization: true
   * when the upstream sent a usable challenge, so that one retry may succeed
   * (the caller retries once). A cached token the upstream refused is dropped.
   */
  challenged(wwwAuthenticate: string | undefined, scope: string, sent: string | undefined): boolean {
    const challenge = parseChallenge(wwwAuthenticate);
    if (!challenge) return false;
    this.#challenge = challenge;
    if (challenge.scheme === 'bearer') {
      const key = tokenKey(challenge, scope);
      if (sent !== undefined && sent === `Bearer ${this.#tokens.peek(key)?.token.reveal()}`) this.#tokens.delete(key);
    }
    return true;
  }

  async #token(challenge: Challenge, scope: string, secret: UpstreamSecret): Promise<CachedToken> {
    const key = tokenKey(challenge, scope);
    if ((this.#tokens.peek(key)?.expiresAt ?? Infinity) <= Date.now()) this.#tokens.delete(key);
    const token = await this.#tokens.load(key, () => this.#fetchToken(challenge, scope, secret), (t) => t.expiresAt - Date.now());
    return token!;
  }

  async #fetchToken(challenge: Challenge, scope: string, secret: UpstreamSecret): Promise<CachedToken> {
    const { upstream } = this.options;
    let realm: URL;
    try {
      realm = new URL(challenge.params.realm);
    } catch {
      throw new RegistryError('UNAVAILABLE', `upstream ${upstream} sent an unusable token realm`, { upstream, reason: 'token_invalid' });
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw new RegistryError('UNAVAILABLE', `upstream ${upstream} sent an unusable token realm`, { upstream, reason: 'token_invalid' });
    }
    if (challenge.params.service) realm.searchParams.set('service', challenge.params.service);
    realm.searchParams.set('scope', scope);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (secret.kind === 'password' && this.#realmAllowed(realm)) {
      headers.authorization = basic(secret.username, secret.password);
      realm.searchParams.set('account', secret.username);
    }
    const started = Date.now();
    // The realm's failure is named to clients only when the realm is one the configuration trusts (see `send`).
    const res = await send(realm, { method: 'GET', headers, timeoutMs: this.options.timeoutMs, agents: this.options.agents, reveal: this.#realmAllowed(realm) }, upstream);
    const body = await readSmall(res).catch(() => Buffer.alloc(0));
    if (res.statusCode !== 200) {
      throw new RegistryError('UNAVAILABLE', `upstream ${upstream} refused the facade's credentials`, { upstream, status: res.statusCode, reason: 'token_refused' });
    }
    let doc: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      doc = JSON.parse(body.toString('utf8')) as typeof doc;
    } catch {
      throw new RegistryError('UNAVAILABLE', `upstream ${upstream} sent an unreadable token`, { upstream, reason: 'token_invalid' });
    }
    const token = doc.token ?? doc.access_token;
    if (!token) throw new RegistryError('UNAVAILABLE', `upstream ${upstream} sent no token`, { upstream, reason: 'token_invalid' });
    const issuedAt = doc.issued_at ? Date.parse(doc.issued_at) : NaN;
    const from = Number.isFinite(issuedAt) ? Math.min(issuedAt, Date.now()) : started;
    const lifetime = Math.max(60, Number(doc.expires_in) || 60) * 1000;
    return { token: new Secret(token), expiresAt: from + lifetime - EXPIRY_MARGIN_MS };
  }

  /** Whether this realm may receive the credentials (realm-policy.ts). */
  #realmAllowed(realm: URL): boolean {
    return realmMayReceiveCredentials(realm, this.options.registryUrl, this.options.realmHosts ?? []);
  }
}

function tokenKey(challenge: Challenge, scope: string): string {
  return `${challenge.params.realm}\n${challenge.params.service ?? ''}\n${scope}`;
}

function basic(username: string, password: Secret): string {
  return `Basic ${Buffer.from(`${username}:${password.reveal()}`).toString('base64')}`;
}
