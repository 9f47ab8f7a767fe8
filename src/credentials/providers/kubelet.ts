import { z } from 'zod';
import type { CredentialProvider, ProviderFactory } from '../credential-provider';

/** `kubelet`: what kubelet sent in PullImageRequest.auth (no opinion when it sent nothing). */
export function fromKubelet(): CredentialProvider {
  return { name: 'kubelet', resolve: async (_target, kubeletAuth) => kubeletAuth, close: async () => undefined };
}

export const kubeletProvider: ProviderFactory<Record<string, never>> = {
  name: 'kubelet',
  params: z.object({}).strict(),
  create: () => fromKubelet(),
};
