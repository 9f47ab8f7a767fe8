import type { ProviderFactory } from '../credential-provider';
import { awsIamProvider } from './aws-iam';
import { ecrProvider } from './ecr';
import { gcpAccessTokenProvider } from './gcp-access-token';
import { gcpIdTokenProvider } from './gcp-id-token';
import { kubeletProvider } from './kubelet';
import { staticProvider } from './static';
import { stsJwtProvider } from './sts-jwt';

/** Provider factories by name. Registering a name twice is a programming error. */
export class ProviderRegistry {
  private readonly factories = new Map<string, ProviderFactory<unknown>>();

  register<P>(factory: ProviderFactory<P>): this {
    if (this.factories.has(factory.name)) throw new Error(`credential provider "${factory.name}" registered twice`);
    this.factories.set(factory.name, factory as ProviderFactory<unknown>);
    return this;
  }

  get(name: string): ProviderFactory<unknown> | undefined {
    return this.factories.get(name);
  }

  names(): string[] {
    return [...this.factories.keys()];
  }
}

/** The built-in providers, registered in one place. */
export const builtinProviders = new ProviderRegistry()
  .register(ecrProvider)
  .register(stsJwtProvider)
  .register(staticProvider)
  .register(kubeletProvider)
  .register(gcpAccessTokenProvider)
  .register(gcpIdTokenProvider)
  .register(awsIamProvider);

export { fromEcr, ecrParams } from './ecr';
export { fromStsJwt, stsJwtParams } from './sts-jwt';
export { fromStatic, staticParams } from './static';
export { fromKubelet } from './kubelet';
export { fromGcpAccessToken, gcpAccessTokenParams } from './gcp-access-token';
export { fromGcpIdToken, gcpIdTokenParams } from './gcp-id-token';
export { fromAwsIam, awsIamParams } from './aws-iam';
