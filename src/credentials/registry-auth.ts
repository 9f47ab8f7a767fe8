import type { Secret } from '../log/secret';

/**
 * Credentials for one registry, in the shape of CRI's AuthConfig and Docker's
 * registry auth. Every secret field is a Secret, so that a RegistryAuth can be
 * logged without leaking anything.
 */
export interface RegistryAuth {
  username?: string;
  password?: Secret;
  /** Registry host the credentials are for (`server_address`). */
  serverAddress?: string;
  /** An OAuth2 refresh token exchanged for an access token at the registry's token endpoint. */
  identityToken?: Secret;
  /** A bearer token sent to the registry as is. */
  registryToken?: Secret;
  /** When minted credentials stop being valid (minted ones only), so a caller that caches them knows how long. */
  expiresAt?: Date;
}

/** True when the auth carries nothing that would authenticate. */
export function isAnonymous(auth: RegistryAuth | undefined): boolean {
  return !auth || (!auth.username && !auth.password && !auth.identityToken && !auth.registryToken);
}
