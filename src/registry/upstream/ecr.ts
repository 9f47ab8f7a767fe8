import type { CredentialServices } from '../../credentials';
import { parseEcrHost } from '../../credentials/ecr-host';
import { ConfigError } from '../../config/errors';
import type { Logger } from '../../log/logger';
import { RegistryError } from '../errors';
import type { UpstreamCredentials } from './credentials';

export interface EcrUpstreamOptions {
  /** ECR host the token is minted for. Default: the upstream URL's host. */
  registry?: string;
  /** Role to assume before GetAuthorizationToken. Default: the process identity. */
  roleArn?: string;
}

/**
 * Upstream credentials from the image service's ECR token source (one shared
 * cache: refreshed ahead of the 12 h expiry, concurrent misses share one
 * call). AWS refusing is logged with its cause and answered to the client as
 * UNAVAILABLE without it.
 */
export function ecrUpstreamCredentials(services: CredentialServices, url: URL, options: EcrUpstreamOptions, setting: string, logger: Logger): UpstreamCredentials {
  const host = options.registry ?? url.host;
  if (!parseEcrHost(host)) {
    throw new ConfigError(options.registry ? `${setting}.registry` : setting, `"${host}" is not an ECR registry host; set registry: <account>.dkr.ecr.<region>.amazonaws.com`);
  }
  return async () => {
    try {
      const c = await services.ecr.get(host, { roleArn: options.roleArn });
      return { kind: 'password', username: c.username, password: c.password };
    } catch (err) {
      logger.error('ECR credentials unavailable', { registry: host, error: (err as Error).message });
      throw new RegistryError('UNAVAILABLE', 'upstream credentials are unavailable');
    }
  };
}
