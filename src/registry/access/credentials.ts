import { Secret } from '../../log/secret';
import type { ClientCredentials } from '../auth/authenticator';
import { RegistryError } from '../errors';

/**
 * Reads the credentials of an `Authorization` header: `Basic` user:password
 * or `Bearer` token. Undefined when there is no header; a malformed one is
 * UNAUTHORIZED (never echoed back).
 */
export function parseAuthorization(header: string | undefined): ClientCredentials | undefined {
  if (!header) return undefined;
  const space = header.indexOf(' ');
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (space > 0 && scheme === 'basic' && value) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { kind: 'basic', username: decoded.slice(0, colon), password: new Secret(decoded.slice(colon + 1)) };
  }
  if (space > 0 && scheme === 'bearer' && value) return { kind: 'bearer', token: new Secret(value) };
  throw new RegistryError('UNAUTHORIZED', 'malformed Authorization header');
}

/** The user name to rate-limit and log under (bearer tokens are not users). */
export function loginName(credentials: ClientCredentials): string {
  return credentials.kind === 'basic' ? credentials.username : '(bearer)';
}
