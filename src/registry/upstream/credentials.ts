import type { Secret } from '../../log/secret';

/**
 * What the facade presents to an upstream: a user name and password (sent as
 * Basic, or traded for a bearer token when the upstream challenges with
 * Bearer), a fixed bearer token, or nothing.
 */
export type UpstreamSecret =
  | { kind: 'password'; username: string; password: Secret }
  | { kind: 'token'; token: Secret }
  | { kind: 'anonymous' };

/**
 * Where an upstream's credentials come from, asked before each token
 * exchange or Basic request. Providers that mint short-lived credentials (ECR)
 * cache them themselves. A rejection means no credentials could be had; the
 * message must not hold a secret.
 */
export type UpstreamCredentials = () => Promise<UpstreamSecret>;

/** No credentials. */
export const anonymous: UpstreamCredentials = async () => ({ kind: 'anonymous' });

/** A fixed user name and password. */
export function fromPassword(username: string, password: Secret): UpstreamCredentials {
  const value: UpstreamSecret = { kind: 'password', username, password };
  return async () => value;
}

/** A fixed bearer token, sent as is. */
export function fromToken(token: Secret): UpstreamCredentials {
  const value: UpstreamSecret = { kind: 'token', token };
  return async () => value;
}
