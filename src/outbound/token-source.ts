import type { Secret } from '../log/secret';

/**
 * Gives a bearer token whose `aud` covers exactly the given audiences.
 *
 * The proxy calls it once per request, so an implementation must answer from
 * a cache almost always and share one mint between concurrent callers of the
 * same audience set. A rejection means no token can be had now (AWS refused
 * or is unreachable and no still-valid token is cached); its message names the
 * cause and never holds a token. Safe under concurrency.
 */
export type TokenSource = (audiences: readonly string[]) => Promise<Secret>;
