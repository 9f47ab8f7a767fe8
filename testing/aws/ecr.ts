import { AwsFault, faultOf } from './fault';
import type { Principal } from './principals';

/** X-Amz-Target of private ECR's GetAuthorizationToken (awsJson1_1, SigV4 service `ecr`). */
export const ECR_TARGET = 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken';
/** X-Amz-Target of ECR Public's GetAuthorizationToken (awsJson1_1, SigV4 service `ecr-public`). */
export const ECR_PUBLIC_TARGET = 'SpencerFrontendService.GetAuthorizationToken';

/** What an ECR action needs from the stand-in. */
export interface EcrContext {
  body: unknown;
  principal: Principal;
  region: string;
  now: number;
  /** Password inside every authorization token (`AWS:<password>`). */
  password: string;
  /** Lifetime of an authorization token, seconds (AWS: 12 h). */
  ttlSeconds: number;
}

/** Answers private ECR's GetAuthorizationToken: one entry per asked registry id (default the caller's account). */
export function ecrGetAuthorizationToken(ctx: EcrContext): unknown {
  const body = (ctx.body ?? {}) as { registryIds?: unknown };
  const ids = body.registryIds === undefined ? [ctx.principal.account] : body.registryIds;
  if (!Array.isArray(ids) || ids.length < 1 || ids.length > 10 || !ids.every((id) => typeof id === 'string' && /^\d{12}$/.test(id))) {
    throw faultOf('InvalidParameterException', 'registryIds must hold 1 to 10 twelve-digit account ids');
  }
  return {
    authorizationData: ids.map((id: string) => ({
      authorizationToken: token(ctx.password),
      expiresAt: expiresAt(ctx),
      proxyEndpoint: `https://${id}.dkr.ecr.${ctx.region}.amazonaws.com`,
    })),
  };
}

/** Answers ECR Public's GetAuthorizationToken (us-east-1 only; one object, not a list). */
export function ecrPublicGetAuthorizationToken(ctx: EcrContext): unknown {
  if (ctx.region !== 'us-east-1') throw faultOf('UnsupportedCommandException', 'ECR Public is only available in us-east-1');
  return { authorizationData: { authorizationToken: token(ctx.password), expiresAt: expiresAt(ctx) } };
}

/** The awsJson1_1 error body; the type also goes in `x-amzn-errortype`. */
export function ecrError(fault: AwsFault): { __type: string; message: string } {
  return { __type: fault.code, message: fault.message };
}

function token(password: string): string {
  return Buffer.from(`AWS:${password}`).toString('base64');
}

/** Epoch seconds with a fraction, as ECR sends them. */
function expiresAt(ctx: EcrContext): number {
  return (ctx.now + ctx.ttlSeconds * 1000) / 1000;
}
