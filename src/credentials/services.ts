import type { Registry } from 'prom-client';
import { AwsClients, type AwsOptions } from './aws-clients';
import { AwsIamTokens } from './aws-iam-tokens';
import { EcrTokens } from './ecr-tokens';
import { GoogleTokens } from './google-tokens';
import { credentialMetrics } from './metrics';
import { TokenCache, type TokenCacheOptions } from './token-cache';
import { WebIdentityTokens } from './web-identity-tokens';

export interface CredentialServicesOptions {
  /** Region, endpoints and base credentials; default the SDK chain. */
  aws?: AwsOptions;
  /** Cache tuning (bound, jitter, backoff, clock). */
  cache?: Omit<TokenCacheOptions, 'observer'>;
  /** Where the credential metrics go; none when omitted. */
  metrics?: Registry;
}

/** The shared token machinery: one cache, the AWS clients, and the token sources on top. */
export interface CredentialServices {
  cache: TokenCache;
  clients: AwsClients;
  /** STS GetWebIdentityToken JWTs by audience set. */
  jwts: WebIdentityTokens;
  /** ECR Basic credentials by registry host. */
  ecr: EcrTokens;
  /** Google access and ID tokens (metadata server or workload identity federation). */
  google: GoogleTokens;
  /** Presigned sts:GetCallerIdentity tokens by audience. */
  awsIam: AwsIamTokens;
  /** Stops background refreshes and closes the SDK clients. */
  close(): void;
}

/** Creates the shared token machinery. Create ONE per process and share it, so every token lives in one cache. */
export function createCredentialServices(options: CredentialServicesOptions = {}): CredentialServices {
  let cache: TokenCache | undefined;
  const observer = options.metrics ? credentialMetrics(options.metrics, () => cache) : undefined;
  cache = new TokenCache({ ...options.cache, observer });
  const clients = new AwsClients(options.aws ?? {}, cache);
  return {
    cache,
    clients,
    jwts: new WebIdentityTokens(clients, cache),
    ecr: new EcrTokens(clients, cache),
    google: new GoogleTokens(cache),
    awsIam: new AwsIamTokens(clients, cache),
    close() {
      cache.close();
      clients.close();
    },
  };
}
