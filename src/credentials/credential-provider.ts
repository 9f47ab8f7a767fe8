import type { Factories, Factory } from '../lib/factory-registry';
import type { Logger } from '../log/logger';
import type { AwsClients } from './aws-clients';
import type { AwsIamTokens } from './aws-iam-tokens';
import type { EcrTokens } from './ecr-tokens';
import type { GoogleTokens } from './google-tokens';
import type { PullTarget } from './pull-credentials';
import type { RegistryAuth } from './registry-auth';
import type { WebIdentityTokens } from './web-identity-tokens';

/**
 * One source of registry credentials (`ecr`, `sts-jwt`, `static`, `kubelet`,
 * `gcp-access-token`, `gcp-id-token`, `aws-iam`),
 * created by name from a rule's configuration.
 *
 * `resolve` answers the credentials for one pull, or undefined when it has no
 * opinion (e.g. a config.json with no entry for the host). A rejection
 * (CredentialError, or ConfigError for a setting AWS refused) means it should
 * have had credentials and could not; its message names the cause, never a
 * secret. Minted tokens come from the shared TokenCache, so `resolve` is cheap
 * after warm-up. Safe under concurrency. `close()` once at shutdown.
 */
export interface CredentialProvider {
  /** The registered name, for logs and metrics. */
  readonly name: string;
  resolve(target: PullTarget, kubeletAuth: RegistryAuth | undefined): Promise<RegistryAuth | undefined>;
  close(): Promise<void>;
}

/** What factories get besides their own parameters. */
export interface ProviderDeps {
  clients: AwsClients;
  jwts: WebIdentityTokens;
  ecr: EcrTokens;
  google: GoogleTokens;
  awsIam: AwsIamTokens;
  logger: Logger;
  /** Where the parameters were written, e.g. `credentials.rules[2].with`, for error messages. */
  setting: string;
}

/**
 * A named provider factory: a zod schema for its parameters (the rule's
 * `with:`), checked at start-up, and `create`.
 */
export type ProviderFactory<P = unknown> = Factory<P, ProviderDeps, CredentialProvider>;

/** Credential provider factories by name (a rule's `provider:`). */
export type ProviderFactories = Factories<ProviderDeps, CredentialProvider>;
