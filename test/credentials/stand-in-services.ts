import { createCredentialServices, type CredentialServices } from '../../src/credentials';
import type { TokenCacheOptions } from '../../src/credentials/token-cache';
import { AwsStandIn, standInCredentials } from '../../testing/aws';

/** Credential services whose SDK clients talk to the stand-in with its static test keys. */
export function standInServices(aws: AwsStandIn, region = 'eu-west-1', cache: Omit<TokenCacheOptions, 'observer'> = {}): CredentialServices {
  return createCredentialServices({
    aws: { region, endpoints: { sts: aws.url, ecr: aws.url, ecrPublic: aws.url }, credentials: standInCredentials, maxAttempts: 1 },
    cache,
  });
}

/**
 * Mocha hooks for a suite against the stand-in: one stand-in for the suite,
 * reset before each test, and fresh credential services per test (closed
 * after it). Read `aws` and `creds` inside tests, not at definition time.
 */
export function useStandInServices(): { aws: AwsStandIn; creds: CredentialServices } {
  const env = {} as { aws: AwsStandIn; creds: CredentialServices };
  before(async () => {
    env.aws = await AwsStandIn.start();
  });
  after(() => env.aws.close());
  beforeEach(() => {
    env.aws.reset();
    env.creds = standInServices(env.aws);
  });
  afterEach(() => env.creds.close());
  return env;
}
