import { z } from 'zod';
import type { CredentialProvider, ProviderDeps, ProviderFactory } from '../credential-provider';
import type { RegistryAuth } from '../registry-auth';
import { skew } from './params';

/** Parameters of the `gcp-id-token` provider (a rule's `with:`). */
export const gcpIdTokenParams = z
  .object({
    /** `aud` of the ID token. Default `https://<the image's registry host>`. */
    audience: z.string().min(1).max(1000).optional(),
    /** How the registry gets the token: `password` (Basic, under `username`), `registry-token` (bearer) or `identity-token`. Default password. */
    as: z.enum(['password', 'registry-token', 'identity-token']).default('password'),
    /** Username sent with `as: password`. Default `gcp-id-token`. */
    username: z.string().min(1).default('gcp-id-token'),
    /** Refresh this long before expiry (capped at half the lifetime). Default 5m. */
    refreshSkew: skew().optional(),
  })
  .strict();
export type GcpIdTokenParams = z.output<typeof gcpIdTokenParams>;

/**
 * `gcp-id-token`: a Google-signed ID token of the node's service account for
 * one audience, from the metadata server (`format=full`, so it carries the
 * instance's project, zone and name): the node's proof of identity for the
 * registry facade's `jwt` authenticator with `profile: gcp`.
 */
export function fromGcpIdToken(params: GcpIdTokenParams, deps: Pick<ProviderDeps, 'google'>): CredentialProvider {
  return {
    name: 'gcp-id-token',
    async resolve(target) {
      const { token } = await deps.google.idToken({ audience: params.audience ?? `https://${target.registry}`, refreshSkewMs: params.refreshSkew });
      const auth: RegistryAuth = { serverAddress: target.registry };
      if (params.as === 'password') return { ...auth, username: params.username, password: token };
      if (params.as === 'registry-token') return { ...auth, registryToken: token };
      return { ...auth, identityToken: token };
    },
    close: async () => undefined,
  };
}

export const gcpIdTokenProvider: ProviderFactory<GcpIdTokenParams> = { name: 'gcp-id-token', params: gcpIdTokenParams, create: fromGcpIdToken };
