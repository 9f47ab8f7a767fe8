import { z } from 'zod';
import type { CredentialProvider, ProviderDeps, ProviderFactory } from '../credential-provider';
import { DEFAULT_GCP_SCOPES } from '../google-tokens';
import { skew } from './params';

/** Parameters of the `gcp-access-token` provider (a rule's `with:`). */
export const gcpAccessTokenParams = z
  .object({
    /** OAuth2 scopes of the token. Default [https://www.googleapis.com/auth/cloud-platform]. */
    scopes: z.array(z.string().url({ message: 'a scope is a URL such as https://www.googleapis.com/auth/cloud-platform' })).min(1).default(DEFAULT_GCP_SCOPES),
    /** An external-account (workload identity federation) credentials file. Default: the metadata server. */
    credentialsFile: z.string().min(1).optional(),
    /** Refresh this long before expiry (capped at half the lifetime). Default 5m. */
    refreshSkew: skew().optional(),
  })
  .strict();
export type GcpAccessTokenParams = z.output<typeof gcpAccessTokenParams>;

/**
 * `gcp-access-token`: an OAuth2 access token of the node's (or Workload
 * Identity's) service account from the metadata server, or from a workload
 * identity federation file, handed to the registry as user `oauth2accesstoken`
 * (Artifact Registry `*.pkg.dev`, `gcr.io`, `*.gcr.io`).
 */
export function fromGcpAccessToken(params: GcpAccessTokenParams, deps: Pick<ProviderDeps, 'google'>): CredentialProvider {
  return {
    name: 'gcp-access-token',
    async resolve(target) {
      const { token } = await deps.google.accessToken({ scopes: params.scopes, credentialsFile: params.credentialsFile, refreshSkewMs: params.refreshSkew });
      return { serverAddress: target.registry, username: 'oauth2accesstoken', password: token };
    },
    close: async () => undefined,
  };
}

export const gcpAccessTokenProvider: ProviderFactory<GcpAccessTokenParams> = { name: 'gcp-access-token', params: gcpAccessTokenParams, create: fromGcpAccessToken };
