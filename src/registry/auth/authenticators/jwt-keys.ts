import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import { isLoopbackHost } from './options';

/** Where a `jwt` authenticator gets its keys: a fixed JWKS URL, or the issuer's discovery document. */
export interface KeySource {
  issuer: string;
  jwksUrl?: string;
  timeoutMs: number;
}

/**
 * Resolves the issuer's key set once, lazily (discovery needs the network,
 * start-up must not), and keeps it; a failed discovery is retried on the next
 * call. jose caches the keys and re-fetches on an unknown `kid`.
 */
export function remoteKeys(source: KeySource): () => Promise<JWTVerifyGetKey> {
  let keys: Promise<JWTVerifyGetKey> | undefined;
  return () => {
    keys ??= resolveJwksUrl(source).then(
      (url) => createRemoteJWKSet(new URL(url), { timeoutDuration: source.timeoutMs, cooldownDuration: 30_000 }),
      (err: unknown) => {
        keys = undefined;
        throw err;
      },
    );
    return keys;
  };
}

async function resolveJwksUrl(source: KeySource): Promise<string> {
  if (source.jwksUrl) return source.jwksUrl;
  const url = `${source.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const res = await fetch(url, { signal: AbortSignal.timeout(source.timeoutMs), redirect: 'error' });
  if (res.status !== 200) throw new Error(`discovery ${url} answered ${res.status}`);
  const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
  if (doc.issuer !== source.issuer) throw new Error(`discovery ${url} names issuer ${JSON.stringify(doc.issuer)}`);
  if (typeof doc.jwks_uri !== 'string') throw new Error(`discovery ${url} has no jwks_uri`);
  const jwks = new URL(doc.jwks_uri);
  if (jwks.protocol !== 'https:' && !(jwks.protocol === 'http:' && isLoopbackHost(jwks.hostname))) {
    throw new Error(`discovery ${url}: jwks_uri must use https`);
  }
  return jwks.href;
}
