import { GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { GetAuthorizationTokenCommand as GetPublicAuthorizationTokenCommand } from '@aws-sdk/client-ecr-public';
import { Secret } from '../log/secret';
import type { AwsClients } from './aws-clients';
import { parseEcrHost, type EcrRegistry } from './ecr-host';
import { CredentialError, awsErrorCode, awsErrorText } from './errors';
import type { TokenCache } from './token-cache';

/** ECR Basic credentials for one registry host. */
export interface EcrCredentials {
  /** Always `AWS`. */
  username: string;
  password: Secret;
  /** The ECR host the token was minted for. */
  registry: string;
  expiresAt: Date;
}

export interface EcrTokenOptions {
  /** Assume this role first. Default: the base identity. */
  roleArn?: string;
  /** Refresh this long before expiry (capped at half the lifetime). Default half the lifetime (6 h of 12 h). */
  refreshSkewMs?: number;
}

/**
 * ECR GetAuthorizationToken (private ECR, or ECR Public for public.ecr.aws)
 * behind the shared token cache, one key per (registry host, role). Safe under
 * concurrency.
 */
export class EcrTokens {
  constructor(
    private readonly clients: AwsClients,
    private readonly cache: TokenCache,
  ) {}

  /** Credentials for `host` (an ECR host). Rejects with CredentialError when the host is not ECR or AWS refuses. */
  async get(host: string, options: EcrTokenOptions = {}): Promise<EcrCredentials> {
    const registry = parseEcrHost(host);
    if (!registry) throw new CredentialError('ecr', `"${host}" is not an ECR registry host (<account>.dkr.ecr.<region>.amazonaws.com or public.ecr.aws)`);
    const key = `ecr:${registry.host}|${options.roleArn ?? ''}`;
    return this.cache.get(key, () => this.mint(registry, options.roleArn), { skewMs: options.refreshSkewMs });
  }

  private async mint(registry: EcrRegistry, roleArn: string | undefined): Promise<{ value: EcrCredentials; expiresAt: number }> {
    let data: { authorizationToken?: string; expiresAt?: Date } | undefined;
    try {
      if (registry.kind === 'public') {
        data = (await this.clients.ecrPublic(roleArn).send(new GetPublicAuthorizationTokenCommand({}))).authorizationData;
      } else {
        const client = this.clients.ecr(registry.region, roleArn, { fips: registry.fips, dualStack: registry.dualStack });
        data = (await client.send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0];
      }
    } catch (err) {
      if (err instanceof CredentialError) throw err;
      const who = roleArn ? `role ${roleArn}` : 'the node identity';
      throw new CredentialError('ecr', `GetAuthorizationToken for ${registry.host} as ${who} failed: ${awsErrorText(err)}`, awsErrorCode(err), { cause: err });
    }
    const decoded = data?.authorizationToken ? Buffer.from(data.authorizationToken, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (colon < 1 || !data?.expiresAt) throw new CredentialError('ecr', `GetAuthorizationToken for ${registry.host} answered without a usable token`, 'unknown');
    const value = { username: decoded.slice(0, colon), password: new Secret(decoded.slice(colon + 1)), registry: registry.host, expiresAt: data.expiresAt };
    return { value, expiresAt: data.expiresAt.getTime() };
  }
}
