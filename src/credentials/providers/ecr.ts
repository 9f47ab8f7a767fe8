import { z } from 'zod';
import type { CredentialProvider, ProviderDeps, ProviderFactory } from '../credential-provider';
import { ecrHost, roleArn, skew } from './params';

/** Parameters of the `ecr` provider (a rule's `with:`). */
export const ecrParams = z
  .object({
    /** Assume this role before GetAuthorizationToken. Default: the node's identity. */
    roleArn: roleArn().optional(),
    /** Mint for this ECR host instead of the image's own (e.g. a pull-through mirror of ECR). Default: the image's host. */
    registry: ecrHost().optional(),
    /** Refresh this long before expiry. Default half the lifetime (6 h of ECR's 12 h). */
    refreshSkew: skew().optional(),
  })
  .strict();
export type EcrParams = z.output<typeof ecrParams>;

/** `ecr`: an ECR authorization token as Basic `AWS:<password>` for the image's registry. */
export function fromEcr(params: EcrParams, deps: Pick<ProviderDeps, 'ecr'>): CredentialProvider {
  return {
    name: 'ecr',
    async resolve(target) {
      const host = params.registry ?? target.registry;
      const creds = await deps.ecr.get(host, { roleArn: params.roleArn, refreshSkewMs: params.refreshSkew });
      return { username: creds.username, password: creds.password, serverAddress: target.registry, expiresAt: creds.expiresAt };
    },
    close: async () => undefined,
  };
}

export const ecrProvider: ProviderFactory<EcrParams> = { name: 'ecr', params: ecrParams, create: fromEcr };
