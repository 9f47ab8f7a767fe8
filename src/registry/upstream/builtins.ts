import { Factories } from '../../lib/factory-registry';
import { anonymousAuth, basicAuth, ecrAuth, gcpAuth, staticTokenAuth, type UpstreamAuthFactories } from './auth-kinds';

/** An empty set of upstream auth kinds. */
export function upstreamAuthFactories(): UpstreamAuthFactories {
  return new Factories('upstream auth kind');
}

/** The built-in upstream auth kinds (`auth: {anonymous|basic|static|ecr|gcp: …}`), registered here and nowhere else. */
export const builtinUpstreamAuthFactories: UpstreamAuthFactories = upstreamAuthFactories()
  .register(anonymousAuth)
  .register(basicAuth)
  .register(staticTokenAuth)
  .register(ecrAuth)
  .register(gcpAuth);
