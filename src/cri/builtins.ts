import { Factories } from '../lib/factory-registry';
import { criBackendFactory } from './cri/factory';
import { dockerBackendFactory } from './docker/factory';
import type { ImageBackendFactories } from './image-backend';

/** An empty set of image backend factories. */
export function imageBackendFactories(): ImageBackendFactories {
  return new Factories('backend');
}

/** The built-in image backends (`--backend docker|cri`), registered here and nowhere else; each lives in the folder of its name. */
export const builtinBackendFactories: ImageBackendFactories = imageBackendFactories().register(dockerBackendFactory).register(criBackendFactory);
