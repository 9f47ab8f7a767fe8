import { randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT, decodeJwt, jwtVerify } from 'jose';
import { BoundedCache } from '../../lib/bounded-cache';
import { type PublicJwks, TokenKeys, type TokenKey } from './token-keys';
import type { ScopeEntry } from './scope';

/** What a verified facade token says. */
export interface AccessClaims {
  /** Identity name, or empty for an anonymous token. */
  subject: string;
  access: ScopeEntry[];
  expiresAt: number;
}

export interface TokenIssuerOptions {
  /** `iss` of the tokens, e.g. `imagegate-registry`. */
  issuer: string;
  /** `aud`: the service name advertised in the challenge. */
  service: string;
  ttlMs: number;
  /** The EC P-256 private key (files.ts reads and checks `token.keyFile`); a fresh key is generated at start when absent (tokens then die with the process). */
  key?: KeyObject;
  /** Several keys (`token.keys`): all verify, the one marked `sign` signs. Takes precedence over `key`. */
  keys?: TokenKey[];
  /** Most verified tokens remembered, so that a hot token is checked once. Default 10000. */
  maxVerified?: number;
}

export interface IssuedToken {
  token: string;
  expiresIn: number;
  issuedAt: string;
}

/**
 * Signs and verifies the facade's own short-lived access tokens (ES256 JWTs
 * in Docker's token format: `access: [{type, name, actions}]`). Verification
 * accepts only ES256 with one of its keys (chosen by the token's `kid`), this
 * issuer and this audience, unexpired — so `alg: none`, other keys, other
 * services and stale tokens all fail. Replicas sharing the keys accept each
 * other's tokens; see TokenKeys for rotation.
 */
export class TokenIssuer {
  readonly #keys: TokenKeys;
  /** Verified tokens, each kept until it expires (or is the least recently used of `maxVerified`). */
  readonly #verified: BoundedCache<string, AccessClaims>;

  constructor(private readonly options: TokenIssuerOptions) {
    this.#keys = new TokenKeys(options.keys ?? (options.key ? [{ key: options.key, sign: true }] : undefined));
    this.#verified = new BoundedCache({ max: options.maxVerified ?? 10_000 });
  }

  /** The verifying public keys as a JWK Set (for `GET /token/keys`). */
  publicKeys(): PublicJwks {
    return this.#keys.jwks();
  }

  async issue(subject: string, access: ScopeEntry[]): Promise<IssuedToken> {
    const now = Math.floor(Date.now() / 1000);
    const ttl = Math.max(60, Math.round(this.options.ttlMs / 1000));
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: this.#keys.signer.kid })
      .setIssuer(this.options.issuer)
      .setAudience(this.options.service)
      .setSubject(subject)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(now + ttl)
      .setJti(randomUUID())
      .sign(this.#keys.signer.privateKey);
    return { token, expiresIn: ttl, issuedAt: new Date(now * 1000).toISOString() };
  }

  /** The claims of a valid facade token, or undefined for anything else. */
  async verify(token: string): Promise<AccessClaims | undefined> {
    const known = this.#verified.get(token);
    if (known) {
      if (known.expiresAt > Date.now()) return known;
      this.#verified.delete(token);
      return undefined;
    }
    try {
      const { payload } = await jwtVerify(token, (header) => this.#keys.verifierFor(header.kid), {
        algorithms: ['ES256'],
        issuer: this.options.issuer,
        audience: this.options.service,
        requiredClaims: ['exp', 'sub'],
      });
      const claims: AccessClaims = { subject: String(payload.sub), access: readAccess(payload.access), expiresAt: (payload.exp as number) * 1000 };
      this.#verified.set(token, claims, Math.max(1, Math.ceil(claims.expiresAt - Date.now())));
      return claims;
    } catch {
      return undefined;
    }
  }

  /** True when the token claims to be one of ours (its `iss`), verified or not: an expired facade token, say. */
  claimsToBeOurs(token: string): boolean {
    try {
      return decodeJwt(token).iss === this.options.issuer;
    } catch {
      return false;
    }
  }
}

function readAccess(value: unknown): ScopeEntry[] {
  if (!Array.isArray(value)) return [];
  return value
    .filter((a): a is { type: string; name: string; actions: unknown[] } => typeof a?.type === 'string' && typeof a?.name === 'string' && Array.isArray(a?.actions))
    .map((a) => ({ type: a.type, name: a.name, actions: a.actions.filter((x): x is string => typeof x === 'string') }));
}
