import { z } from 'zod';
import { duration } from '../../config/duration';
import { AWS_IAM_AUDIENCE_HEADER } from '../aws-iam-token';
import type { CredentialProvider, ProviderDeps, ProviderFactory } from '../credential-provider';
import { roleArn, skew } from './params';

/** Parameters of the `aws-iam` provider (a rule's `with:`). */
export const awsIamParams = z
  .object({
    /** Value of the signed audience header; the facade's `aws-iam` authenticator expects the same. Default `https://<the image's registry host>`. */
    audience: z.string().min(1).max(1000).optional(),
    /** Name of the signed audience header. Default `x-imagegate-audience`. */
    header: z.string().regex(/^x-[a-z0-9-]+$/, { message: 'must be a lower-case header name starting with x-' }).default(AWS_IAM_AUDIENCE_HEADER),
    /** STS region the request is signed for (its regional host). Default: credentials.aws.region / the SDK chain. */
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, { message: 'must be an AWS region such as eu-west-1' }).optional(),
    /** Sign as this role (AssumeRole first). Default: the node's identity. */
    roleArn: roleArn().optional(),
    /** X-Amz-Expires of the presigned request, 1s–15m. Default 15m. */
    expires: duration()
      .refine((ms) => ms >= 1000 && ms <= 900_000 && ms % 1000 === 0, { message: 'must be whole seconds between 1s and 15m' })
      .default(900_000),
    /** Username sent with the token as password. Default `aws-iam`. */
    username: z.string().min(1).default('aws-iam'),
    /** Refresh this long before expiry (capped at half the lifetime). Default half the lifetime. */
    refreshSkew: skew().optional(),
  })
  .strict();
export type AwsIamParams = z.output<typeof awsIamParams>;

/**
 * `aws-iam`: the node proves its AWS IAM identity without identity federation
 * — a SigV4-presigned `sts:GetCallerIdentity` request bound to a signed
 * audience header (as aws-iam-authenticator binds `x-k8s-aws-id`), given to
 * the registry facade as the Basic password. Signed locally; no AWS call
 * besides the credentials themselves.
 */
export function fromAwsIam(params: AwsIamParams, deps: Pick<ProviderDeps, 'awsIam'>): CredentialProvider {
  return {
    name: 'aws-iam',
    async resolve(target) {
      const { token } = await deps.awsIam.get({
        audience: params.audience ?? `https://${target.registry}`,
        header: params.header,
        region: params.region,
        roleArn: params.roleArn,
        expiresSeconds: params.expires / 1000,
        refreshSkewMs: params.refreshSkew,
      });
      return { serverAddress: target.registry, username: params.username, password: token };
    },
    close: async () => undefined,
  };
}

export const awsIamProvider: ProviderFactory<AwsIamParams> = { name: 'aws-iam', params: awsIamParams, create: fromAwsIam };
