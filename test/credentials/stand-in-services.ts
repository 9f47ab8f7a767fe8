import { createCredentialServices, type CredentialServices } from '../../src/credentials';
import type { TokenCacheOptions } from '../../src/credentials/token-cache';
import { standInCredentials, type AwsStandIn } from '../aws';

/** Credential services whose SDK clients talk to the stand-in with its static test keys. */
export function standInServices(aws: AwsStandIn, region = 'eu-west-1', cache: Omit<TokenCacheOptions, 'observer'> = {}): CredentialServices {
  return createCredentialServices({
    aws: { region, endpoints: { sts: aws.url, ecr: aws.url, ecrPublic: aws.url }, credentials: standInCredentials, maxAttempts: 1 },
    cache,
  });
}
