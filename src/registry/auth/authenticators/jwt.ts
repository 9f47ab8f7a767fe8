import { decodeJwt, errors, jwtVerify } from 'jose';
import { z } from 'zod';
import { duration } from '../../../config/duration';
import type { AuthDecision, Authenticator, AuthenticatorEnv, AuthenticatorFactory, ClientCredentials } from '../authenticator';
import { claimMappingSchema, identityFrom } from './claims';
import { remoteKeys } from './jwt-keys';
import { trustedUrl } from './options';

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

/** Issuer of Google-signed ID tokens (the `gcp` profile's default). */
export const GOOGLE_ISSUER = 'https://accounts.google.com';

/**
 * Claim mappings by profile: `oidc` (sub, groups), `aws-sts` (role ARN,
 * account from the STS claim) and `gcp` (Google ID tokens of a service
 * account: email, else sub; the instance's project, zone and name from
 * `google.compute_engine`, present in `format=full` tokens).
 */
const PROFILES = {
  oidc: { name: ['sub'], groups: ['groups'] },
  'aws-sts': { name: ['sub'], groups: [], attributes: { account: '[https://sts.amazonaws.com/].aws_account' } },
  gcp: {
    name: ['email', 'sub'],
    groups: [],
    attributes: {
      project_id: 'google.compute_engine.project_id',
      project_number: 'google.compute_engine.project_number',
      zone: 'google.compute_engine.zone',
      instance_name: 'google.compute_engine.instance_name',
      instance_id: 'google.compute_engine.instance_id',
    },
  },
};

/** The options of this authenticator (docs/configuration.md checks its keys against them). */
export const schema = z
  .strictObject({
    /** Expected `iss`, exactly. A token from another issuer → abstain. Required, except with `profile: gcp` (default https://accounts.google.com). */
    issuer: trustedUrl().optional(),
    /** The issuer's JWKS. Default: from `<issuer>/.well-known/openid-configuration`. */
    jwksUrl: trustedUrl().optional(),
    /** Accepted `aud` values (one must match). */
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    /** Accepted signature algorithms. Default: all asymmetric ones (never `none`, never HMAC). */
    algorithms: z
      .array(z.enum(ALGORITHMS, { error: (i) => `algorithm ${JSON.stringify(i.input)} not allowed (use ${ALGORITHMS.join(', ')})` }))
      .min(1)
      .default([...ALGORITHMS]),
    /** Leeway for `exp`, `nbf` and `iat`. Default 30s. */
    clockTolerance: duration('30s'),
    /** Timeout for fetching discovery and keys. Default 5s. */
    timeout: duration('5s'),
    /** Default claim mapping: `oidc`, `aws-sts` or `gcp`. Default `oidc`. */
    profile: z.enum(['oidc', 'aws-sts', 'gcp']).default('oidc'),
    claims: z.unknown().optional(),
  })
  .transform((o, ctx) => {
    const issuer = o.issuer ?? (o.profile === 'gcp' ? GOOGLE_ISSUER : undefined);
    if (issuer === undefined) {
      ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'required (only profile gcp has a default issuer)' });
      return z.NEVER;
    }
    const mapping = claimMappingSchema(PROFILES[o.profile]).safeParse(o.claims);
    if (!mapping.success) {
      for (const issue of mapping.error.issues) ctx.addIssue({ ...issue, path: ['claims', ...issue.path] } as never);
      return z.NEVER;
    }
    return { ...o, issuer, claims: mapping.data };
  });

/**
 * `jwt`: a JWT given as the Basic password or as a bearer token, verified
 * against the issuer's keys (JWKS URL or discovery): signature with an allowed
 * algorithm, `iss`, `aud`, `exp`/`nbf`/`iat` with leeway (an `iat` later than
 * now plus the leeway is refused). Not a JWT, or another
 * issuer's → abstain; any verification failure → deny; keys unreachable → deny.
 * Accepts AWS STS GetWebIdentityToken JWTs (`profile: aws-sts`) and Google
 * ID tokens from the metadata server (`profile: gcp`).
 */
export const jwtAuthenticator: AuthenticatorFactory<Params> = { name: 'jwt', params: schema, create: createJwt };

type Params = z.output<typeof schema>;

function createJwt(o: Params, env: AuthenticatorEnv) {
  const keys = remoteKeys({ issuer: o.issuer, jwksUrl: o.jwksUrl, timeoutMs: o.timeout });

  return {
    name: env.name,
    async authenticate(credentials: ClientCredentials): Promise<AuthDecision> {
      const token = credentials.kind === 'basic' ? credentials.password.reveal() : credentials.token.reveal();
      if (unverifiedIssuer(token) !== o.issuer) return { kind: 'abstain' };
      let getKey;
      try {
        getKey = await keys();
      } catch (err) {
        env.logger.warn('issuer keys unavailable', { issuer: o.issuer, error: (err as Error).message });
        return { kind: 'deny', reason: 'issuer keys unavailable' };
      }
      try {
        const { payload } = await jwtVerify(token, getKey, {
          issuer: o.issuer,
          audience: o.audience,
          algorithms: o.algorithms,
          clockTolerance: o.clockTolerance / 1000,
          requiredClaims: ['exp'],
        });
        if (typeof payload.iat === 'number' && payload.iat * 1000 > Date.now() + o.clockTolerance) {
          return { kind: 'deny', reason: 'token rejected: issued in the future (iat)' };
        }
        if (o.profile === 'gcp' && payload.email !== undefined && payload.email_verified !== true) return { kind: 'deny', reason: 'token email is not verified' };
        const identity = identityFrom(payload as Record<string, unknown>, o.claims);
        if (!identity) return { kind: 'deny', reason: 'token has no identity claim' };
        return { kind: 'allow', identity: { ...identity, authenticator: env.name } };
      } catch (err) {
        if (keysUnavailable(err)) {
          env.logger.warn('issuer keys unavailable', { issuer: o.issuer, error: (err as Error).message });
          return { kind: 'deny', reason: 'issuer keys unavailable' };
        }
        return { kind: 'deny', reason: `token rejected: ${describe(err)}` };
      }
    },
    async close() {},
  } satisfies Authenticator;
}

/** `iss` of a JWT-shaped string, without verifying anything; undefined when it is not a JWT. */
function unverifiedIssuer(token: string): string | undefined {
  if (token.length > 16_384 || !/^[\w-]+\.[\w-]+\.[\w-]*$/.test(token)) return undefined;
  try {
    const iss = decodeJwt(token).iss;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

/** A failure to fetch or read the key set, as opposed to a token that does not verify. */
function keysUnavailable(err: unknown): boolean {
  return err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || !(err instanceof errors.JOSEError);
}

function describe(err: unknown): string {
  if (err instanceof errors.JWKSNoMatchingKey) return 'no matching key';
  if (err instanceof errors.JOSEError) return `${err.code}${err instanceof errors.JWTClaimValidationFailed ? ` (${err.claim})` : ''}`;
  return 'verification failed';
}
