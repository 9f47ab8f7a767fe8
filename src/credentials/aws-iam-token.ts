/**
 * The `aws-iam` token: a SigV4-presigned `sts:GetCallerIdentity` GET URL,
 * base64url-encoded (no padding) behind a version prefix — the shape of
 * aws-iam-authenticator's `k8s-aws-v1.` tokens, with imagegate's own prefix so
 * a Kubernetes token is never mistaken for one. The presigned request also
 * signs an audience header (default `x-imagegate-audience`) whose value the
 * verifier supplies itself, so a token made for one service is useless at
 * another.
 */
export const AWS_IAM_TOKEN_PREFIX = 'imagegate-aws-v1.';

/** The audience header signed into every token unless configured otherwise. */
export const AWS_IAM_AUDIENCE_HEADER = 'x-imagegate-audience';

/** Longest token accepted (a presigned URL with a session token is about 1.5 KB). */
export const AWS_IAM_TOKEN_MAX = 8192;

export function encodeAwsIamToken(presignedUrl: string): string {
  return AWS_IAM_TOKEN_PREFIX + Buffer.from(presignedUrl, 'utf8').toString('base64url');
}

/** The presigned URL inside a token, or undefined when it is not one (wrong prefix, too long, not base64url). */
export function decodeAwsIamToken(token: string): string | undefined {
  if (!token.startsWith(AWS_IAM_TOKEN_PREFIX) || token.length > AWS_IAM_TOKEN_MAX) return undefined;
  const body = token.slice(AWS_IAM_TOKEN_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) return undefined;
  return Buffer.from(body, 'base64url').toString('utf8');
}

/** `sts.<region>.amazonaws.com` (`.amazonaws.com.cn` in China), the regional STS host. */
export function regionalStsHost(region: string): string {
  return `sts.${region}.${region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'}`;
}
