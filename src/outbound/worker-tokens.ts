import { LRUCache } from 'lru-cache';
import { Secret } from '../log/secret';
import type { Rpc } from './ipc';
import type { TokenSource } from './token-source';
import type { StsTokens } from './tokens';

/** How long a worker reuses a token before asking the primary again: it lags the primary's refresh by at most this. */
export const WORKER_TOKEN_REUSE_MS = 1000;
/** A worker never keeps a token closer than this to its expiry. */
const EXPIRY_MARGIN_MS = 1000;
/** The primary answers from its cache; a mint (with the SDK's retries) may take longer than a request should wait. */
const CALL_TIMEOUT_MS = 60_000;

interface Shared {
  token: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

/**
 * The primary's side: answers its workers' `token` calls from the one STS
 * token cache, so that N workers cause the STS calls of one process.
 */
export function tokenHandler(tokens: StsTokens): (args: unknown) => Promise<Shared> {
  return async (args) => {
    const audiences = (args as { audiences?: unknown }).audiences;
    if (!Array.isArray(audiences) || !audiences.every((a) => typeof a === 'string')) throw new Error('token: audiences must be strings');
    const minted = await tokens.minted(audiences);
    return { token: minted.token.reveal(), expiresAt: minted.expiresAt.getTime() };
  };
}

/**
 * A worker's token source: asks the primary (one IPC round trip) and reuses
 * the answer for WORKER_TOKEN_REUSE_MS, never closer than a second to its
 * expiry; concurrent requests for one audience set share one call (lru-cache
 * `fetch`). Bounded like the primary's cache (1,000 audience sets). A failure
 * is not kept: the primary's cache holds the backoff, so the next request
 * gets the same answer without an STS call.
 */
export function tokensFromPrimary(rpc: Rpc): TokenSource {
  const cache = new LRUCache<string, Secret, readonly string[]>({
    max: 1000,
    ttl: WORKER_TOKEN_REUSE_MS,
    fetchMethod: async (_key, _stale, { options, context }) => {
      const shared = await rpc.call<Shared>('token', { audiences: context }, CALL_TIMEOUT_MS);
      options.ttl = Math.max(1, Math.min(WORKER_TOKEN_REUSE_MS, shared.expiresAt - EXPIRY_MARGIN_MS - Date.now()));
      return new Secret(shared.token);
    },
  });
  return async (audiences) => {
    const token = await cache.fetch(audiences.join('\n'), { context: audiences });
    if (!token) throw new Error('no token from the primary process');
    return token;
  };
}
