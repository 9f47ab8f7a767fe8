import type { AuthConfig__Output } from '../generated/runtime/v1/AuthConfig';
import type { RegistryAuth } from '../credentials/registry-auth';
import { isAnonymous } from '../credentials/registry-auth';
import { Secret, secretOf } from '../log/secret';
import { CriError } from './errors';

/**
 * Turns kubelet's CRI AuthConfig into a RegistryAuth, every secret wrapped.
 * The base64 `auth` form (`user:password`) is decoded when username and
 * password are not given separately. Returns undefined for no credentials.
 */
export function fromAuthConfig(auth: AuthConfig__Output | null | undefined): RegistryAuth | undefined {
  if (!auth) return undefined;
  let username = auth.username || undefined;
  let password = secretOf(auth.password);
  if (auth.auth && !username && !password) {
    const decoded = Buffer.from(auth.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw CriError.invalidArgument('AuthConfig.auth must be base64 of "username:password"');
    username = decoded.slice(0, colon);
    password = new Secret(decoded.slice(colon + 1));
  }
  const result: RegistryAuth = {
    username,
    password,
    serverAddress: auth.serverAddress || undefined,
    identityToken: secretOf(auth.identityToken),
    registryToken: secretOf(auth.registryToken),
  };
  return isAnonymous(result) ? undefined : result;
}

/** The reverse, for a backend that sends credentials on as a CRI AuthConfig. Reveals the secrets. */
export function toAuthConfig(auth: RegistryAuth | undefined): AuthConfig__Output | null {
  if (!auth) return null;
  return {
    username: auth.username ?? '',
    password: auth.password?.reveal() ?? '',
    auth: '',
    serverAddress: auth.serverAddress ?? '',
    identityToken: auth.identityToken?.reveal() ?? '',
    registryToken: auth.registryToken?.reveal() ?? '',
  };
}
