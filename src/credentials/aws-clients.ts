import { ECRClient } from '@aws-sdk/client-ecr';
import { ECRPUBLICClient } from '@aws-sdk/client-ecr-public';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { CredentialError, awsErrorCode, awsErrorText } from './errors';
import type { TokenCache } from './token-cache';

/** Where and as whom imagegate talks to AWS. Everything defaults to the SDK's default chain. */
export interface AwsOptions {
  /** Region for STS. Default: the SDK chain (AWS_REGION, profile, IMDS). ECR regions come from the registry host. */
  region?: string;
  /** Endpoint overrides. Default: the SDK's (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL_ECR_PUBLIC, or AWS's). */
  endpoints?: { sts?: string; ecr?: string; ecrPublic?: string };
  /** Base credentials. Default: the SDK chain (environment, IRSA web identity, EKS Pod Identity, instance role). */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** SDK attempts per call (the cache adds its own backoff on top). Default 3. */
  maxAttempts?: number;
  /** RoleSessionName for AssumeRole. Default `imagegate`. */
  sessionName?: string;
}

/** Role sessions are refreshed this long before they end. */
const ROLE_SKEW_MS = 5 * 60_000;

/**
 * The SDK clients imagegate uses, one per (service, region, role), built lazily
 * and reused. With a role ARN, the client's credentials are an AssumeRole
 * session kept in the shared token cache.
 */
export class AwsClients {
  private readonly clients = new Map<string, STSClient | ECRClient | ECRPUBLICClient>();

  constructor(
    readonly options: AwsOptions,
    private readonly cache: TokenCache,
  ) {}

  /** An STS client on the REGIONAL endpoint of `region` (GetWebIdentityToken does not exist on the global one). */
  sts(region = this.options.region, roleArn?: string): STSClient {
    if (region === 'aws-global') throw new CredentialError('sts-jwt', 'region aws-global selects the global STS endpoint; GetWebIdentityToken needs a regional one (set a real region)');
    return this.client(`sts|${region ?? ''}|${roleArn ?? ''}`, () =>
      new STSClient({ ...this.common(roleArn), region, endpoint: this.options.endpoints?.sts, useGlobalEndpoint: false }),
    );
  }

  ecr(region: string, roleArn?: string, flags: { fips?: boolean; dualStack?: boolean } = {}): ECRClient {
    return this.client(`ecr|${region}|${roleArn ?? ''}|${flags.fips ? 'fips' : ''}|${flags.dualStack ? 'dual' : ''}`, () =>
      new ECRClient({
        ...this.common(roleArn), region, endpoint: this.options.endpoints?.ecr,
        useFipsEndpoint: flags.fips, useDualstackEndpoint: flags.dualStack,
      }),
    );
  }

  /** ECR Public lives in us-east-1 only. */
  ecrPublic(roleArn?: string): ECRPUBLICClient {
    return this.client(`ecr-public||${roleArn ?? ''}`, () =>
      new ECRPUBLICClient({ ...this.common(roleArn), region: 'us-east-1', endpoint: this.options.endpoints?.ecrPublic }),
    );
  }

  /** The credentials a client for `roleArn` signs with: the base chain, or an AssumeRole session from the cache. */
  credentialsFor(roleArn?: string): AwsCredentialIdentity | AwsCredentialIdentityProvider | undefined {
    if (!roleArn) return this.options.credentials;
    return () =>
      this.cache.get(`sts-assume-role:${roleArn}`, () => this.assumeRole(roleArn), { skewMs: ROLE_SKEW_MS });
  }

  close(): void {
    for (const c of this.clients.values()) c.destroy();
    this.clients.clear();
  }

  private async assumeRole(roleArn: string) {
    let out;
    try {
      out = await this.sts().send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: this.options.sessionName ?? 'imagegate' }));
    } catch (err) {
      throw new CredentialError('sts', `cannot assume role ${roleArn}: ${awsErrorText(err)}`, awsErrorCode(err), { cause: err });
    }
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.Expiration) throw new CredentialError('sts', `AssumeRole ${roleArn} answered without credentials`, 'unknown');
    const value: AwsCredentialIdentity = {
      accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration,
    };
    return { value, expiresAt: c.Expiration.getTime() };
  }

  private common(roleArn?: string) {
    return { credentials: this.credentialsFor(roleArn), maxAttempts: this.options.maxAttempts ?? 3 };
  }

  private client<C extends STSClient | ECRClient | ECRPUBLICClient>(key: string, make: () => C): C {
    let c = this.clients.get(key);
    if (!c) this.clients.set(key, (c = make()));
    return c as C;
  }
}
