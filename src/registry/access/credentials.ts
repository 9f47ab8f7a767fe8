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

/**
 * The user name failed logins are counted under (bearer tokens are not users):
 * Unicode-normalised (NFKC), case-folded, trimmed and with runs of white space
 * made one, the way a directory compares names (LDAP's caseIgnoreMatch), so
 * that `alice`, `Alice` and ` ALICE` share one budget in every authenticator.
 */
export function loginKey(credentials: ClientCredentials): string {
  if (credentials.kind !== 'basic') return '(bearer)';
  return credentials.username.normalize('NFKC').toLowerCase().trim().replace(/\s+/g, ' ').slice(0, 256);
}
