import { Factories } from '../../lib/factory-registry';
import type { ProviderFactories } from '../credential-provider';
import { awsIamProvider } from './aws-iam';
import { ecrProvider } from './ecr';
import { gcpAccessTokenProvider } from './gcp-access-token';
import { gcpIdTokenProvider } from './gcp-id-token';
import { kubeletProvider } from './kubelet';
import { dockerConfigFileProvider } from './static';
import { stsJwtProvider } from './sts-jwt';

/** An empty set of credential provider factories (`unknown provider "x" (known: …)` names what is registered). */
export function providerFactories(): ProviderFactories {
  return new Factories('provider');
}

/** The built-in providers, registered here and nowhere else. */
export const builtinProviderFactories: ProviderFactories = providerFactories()
  .register(ecrProvider)
  .register(stsJwtProvider)
  .register(dockerConfigFileProvider)
  .register(kubeletProvider)
  .register(gcpAccessTokenProvider)
  .register(gcpIdTokenProvider)
  .register(awsIamProvider);
