import { z } from 'zod';
import { duration } from '../../config/duration';
import type { CredentialProvider, ProviderDeps, ProviderFactory } from '../credential-provider';
import type { RegistryAuth } from '../registry-auth';
import { roleArn, skew } from './params';

/** Parameters of the `sts-jwt` provider (a rule's `with:`). */
export const stsJwtParams = z
  .object({
    /** 1–10 audiences (`aud`). Default: `https://<the image's registry host>`. */
    audiences: z
      .array(z.string().min(1, { message: 'an audience cannot be empty' }).max(1000, { message: 'an audience is at most 1000 characters' }))
      .min(1, { message: 'GetWebIdentityToken takes 1 to 10 audiences' })
      .max(10, { message: 'GetWebIdentityToken takes 1 to 10 audiences' })
      .optional(),
    /** RS256 (default) or ES384. */
    algorithm: z.enum(['RS256', 'ES384']).default('RS256'),
    /** JWT lifetime, 60s–3600s. Default 300s. */
    duration: duration()
      .refine((ms) => ms >= 60_000 && ms <= 3_600_000 && ms % 1000 === 0, { message: 'must be whole seconds between 60s and 3600s (1h)' })
      .default(300_000),
    /** Request tags → claims under `request_tags` (needs sts:TagGetWebIdentityToken). Default none. */
    tags: z.record(z.string().min(1), z.string()).optional(),
    /** Assume this role first, so the JWT's `sub` is this role. Default: the node's identity. */
    roleArn: roleArn().optional(),
    /** STS region (its regional endpoint). Default: credentials.aws.region / the SDK chain. */
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, { message: 'must be an AWS region such as eu-west-1' }).optional(),
    /** How the registry gets the JWT: `password` (Basic, under `username`), `registry-token` (bearer) or `identity-token` (OAuth2 refresh token). Default password. */
    as: z.enum(['password', 'registry-token', 'identity-token']).default('password'),
    /** Username sent with `as: password`. Default `sts-jwt`. */
    username: z.string().min(1).default('sts-jwt'),
    /** Refresh this long before expiry (capped at half the lifetime). Default 5m. */
    refreshSkew: skew().optional(),
  })
  .strict();
export type StsJwtParams = z.output<typeof stsJwtParams>;

/** `sts-jwt`: a JWT from STS GetWebIdentityToken, handed to the registry as the rule says. */
export function fromStsJwt(params: StsJwtParams, deps: Pick<ProviderDeps, 'jwts' | 'setting'>): CredentialProvider {
  return {
    name: 'sts-jwt',
    async resolve(target) {
      const jwt = await deps.jwts.get({
        audiences: params.audiences ?? [`https://${target.registry}`],
        algorithm: params.algorithm,
        durationSeconds: params.duration / 1000,
        tags: params.tags,
        roleArn: params.roleArn,
        region: params.region,
        refreshSkewMs: params.refreshSkew,
        tagsSetting: `${deps.setting}.tags`,
      });
      const auth: RegistryAuth = { serverAddress: target.registry, expiresAt: jwt.expiresAt };
      if (params.as === 'password') return { ...auth, username: params.username, password: jwt.token };
      if (params.as === 'registry-token') return { ...auth, registryToken: jwt.token };
      return { ...auth, identityToken: jwt.token };
    },
    close: async () => undefined,
  };
}

export const stsJwtProvider: ProviderFactory<StsJwtParams> = { name: 'sts-jwt', params: stsJwtParams, create: fromStsJwt };
