/**
 * imagegate credentials: short-lived AWS credentials for registries.
 *
 * Reusing the token machinery outside the image service (outbound proxy,
 * registry facade): create ONE `CredentialServices` per process and share it,
 * so every token sits in the one cache (refresh ahead with jitter, shared
 * in-flight mints, stale-while-valid with backoff, never expired, bounded).
 *
 *   const creds = createCredentialServices({ metrics: registry });   // AWS from the SDK default chain
 *   // "a JWT for this audience set" (STS GetWebIdentityToken, regional endpoint):
 *   const { token, expiresAt } = await creds.jwts.get({ audiences: ['https://api.example'], algorithm: 'RS256', durationSeconds: 300 });
 *   req.setHeader('authorization', `Bearer ${token.reveal()}`);
 *   // "ECR Basic credentials for this host" (private, FIPS, dual-stack or public.ecr.aws):
 *   const { username, password } = await creds.ecr.get('111122223333.dkr.ecr.eu-west-1.amazonaws.com', { roleArn });
 *   // "a Google access token / ID token" (metadata server via GCE_METADATA_HOST, or an external-account file):
 *   const { token: access } = await creds.google.accessToken({ scopes, credentialsFile });
 *   const { token: id } = await creds.google.idToken({ audience: 'https://registry.example.com' });
 *   // "a presigned sts:GetCallerIdentity bound to an audience" (the aws-iam token):
 *   const { token: iam } = await creds.awsIam.get({ audience: 'https://registry.example.com', region: 'eu-west-1' });
 *   creds.close();  // at shutdown
 *
 * Both reject with CredentialError (message names the cause, `code` = AWS error
 * code) — or ConfigError when AWS refuses the configured tags as too large.
 * Tests point the SDK at the AWS stand-in (testing/aws) with
 * `createCredentialServices({ aws: { endpoints: { sts: aws.url, ecr: aws.url, ecrPublic: aws.url }, credentials: standInCredentials, region } })`
 * or the AWS_ENDPOINT_URL_STS / _ECR / _ECR_PUBLIC environment variables.
 *
 * The image service uses `credentialsSchema()` for its `credentials:` section and
 * `buildPullCredentials(config, {logger, metrics})` for its PullCredentials.
 */
export { buildPullCredentials, type BuildOptions } from './build';
export { credentialsSchema, PRECEDENCES, type CredentialsConfig, type Precedence, type RuleConfig } from './config';
export type { CredentialProvider, ProviderDeps, ProviderFactories, ProviderFactory } from './credential-provider';
export { parseEcrHost, type EcrRegistry } from './ecr-host';
export type { EcrCredentials, EcrTokenOptions, EcrTokens } from './ecr-tokens';
export { CredentialError, awsErrorCode } from './errors';
export { builtinProviderFactories, providerFactories, fromAwsIam, fromEcr, fromGcpAccessToken, fromGcpIdToken, fromKubelet, fromDockerConfigFile, fromStsJwt } from './providers';
export { AWS_IAM_AUDIENCE_HEADER, AWS_IAM_TOKEN_PREFIX, decodeAwsIamToken, regionalStsHost } from './aws-iam-token';
export type { AwsIamToken, AwsIamTokenRequest, AwsIamTokens } from './aws-iam-tokens';
export { DEFAULT_GCP_SCOPES, type AccessTokenRequest, type GoogleToken, type GoogleTokens, type IdTokenRequest } from './google-tokens';
export { kubeletOnly, type PullCandidate, type PullCredentials, type PullPlan, type PullTarget } from './pull-credentials';
export type { RegistryAuth } from './registry-auth';
export { createCredentialServices, type CredentialServices, type CredentialServicesOptions } from './services';
export { TokenCache, type Minted, type RefreshPolicy, type TokenCacheOptions } from './token-cache';
export type { AwsOptions } from './aws-clients';
export type { JwtRequest, MintedJwt, WebIdentityTokens } from './web-identity-tokens';
