import type { CredentialServices } from '../../credentials';
import type { Logger } from '../../log/logger';
import { RegistryError } from '../errors';
import type { UpstreamCredentials } from './credentials';

export interface GcpUpstreamOptions {
  /** OAuth2 scopes. Default cloud-platform. */
  scopes?: string[];
  /** An external-account (workload identity federation) file, already resolved to an absolute path. Default: the metadata server. */
  credentialsFile?: string;
}

/**
 * Upstream credentials for Artifact Registry / GCR: user `oauth2accesstoken`
 * and an access token minted by the shared credential services (metadata
 * server or workload identity federation; one cache: refreshed ahead,
 * stale-while-valid, one call per key) instead of a `_json_key` file. Google
 * refusing or the metadata server being down is logged with its cause and
 * answered to the client as UNAVAILABLE without it.
 */
export function gcpUpstreamCredentials(services: CredentialServices, options: GcpUpstreamOptions, logger: Logger): UpstreamCredentials {
  return async () => {
    try {
      const { token } = await services.google.accessToken({ scopes: options.scopes, credentialsFile: options.credentialsFile });
      return { kind: 'password', username: 'oauth2accesstoken', password: token };
    } catch (err) {
      logger.error('Google credentials unavailable', { error: (err as Error).message });
      throw new RegistryError('UNAVAILABLE', 'upstream credentials are unavailable');
    }
  };
}
