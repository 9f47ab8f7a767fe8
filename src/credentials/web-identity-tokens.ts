import { GetWebIdentityTokenCommand } from '@aws-sdk/client-sts';
import { ConfigError } from '../config/errors';
import { Secret } from '../log/secret';
import type { AwsClients } from './aws-clients';
import { CredentialError, awsErrorCode, awsErrorText } from './errors';
import type { TokenCache } from './token-cache';

/** What JWT to mint: the GetWebIdentityToken parameters plus whose identity. */
export interface JwtRequest {
  /** 1–10 values, each 1–1000 characters → `aud`. */
  audiences: string[];
  /** Default RS256. */
  algorithm?: 'RS256' | 'ES384';
  /** 60–3600, default 300. */
  durationSeconds?: number;
  /** Become claims under `request_tags` (needs sts:TagGetWebIdentityToken). */
  tags?: Record<string, string>;
  /** Assume this role first; the JWT's `sub` is then this role. Default: the base identity. */
  roleArn?: string;
  /** STS region (always its regional endpoint). Default: AwsOptions.region / the SDK chain. */
  region?: string;
  /** Refresh this long before expiry (capped at half the lifetime). Default 5 min. */
  refreshSkewMs?: number;
  /** Setting named when AWS refuses the tags as too large, e.g. `credentials.rules[0].with.tags`. */
  tagsSetting?: string;
}

/** A minted JWT. */
export interface MintedJwt {
  token: Secret;
  expiresAt: Date;
}

/** Default refresh skew for JWTs. */
export const JWT_SKEW_MS = 5 * 60_000;

/**
 * STS GetWebIdentityToken behind the shared token cache: equal requests (same
 * audience set in any order, algorithm, duration, tags, role, region) share one
 * cached JWT. Safe under concurrency.
 */
export class WebIdentityTokens {
  constructor(
    private readonly clients: AwsClients,
    private readonly cache: TokenCache,
  ) {}

  /** A valid JWT for `request`, from the cache or freshly minted. Rejects with CredentialError or ConfigError. */
  get(request: JwtRequest): Promise<MintedJwt> {
    const audiences = [...new Set(request.audiences)].sort();
    const tags = Object.entries(request.tags ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
    const region = request.region ?? this.clients.options.region ?? '';
    const duration = request.durationSeconds ?? 300;
    const algorithm = request.algorithm ?? 'RS256';
    const key = `sts-jwt:${region}|${request.roleArn ?? ''}|${algorithm}|${duration}|${audiences.join(',')}|${tags.length ? JSON.stringify(tags) : ''}`;
    return this.cache.get(key, () => this.mint({ ...request, audiences, algorithm, durationSeconds: duration }), {
      skewMs: request.refreshSkewMs ?? JWT_SKEW_MS,
    });
  }

  private async mint(request: JwtRequest & { durationSeconds: number }, retried = false): Promise<{ value: MintedJwt; expiresAt: number }> {
    const client = this.clients.sts(request.region, request.roleArn);
    try {
      const out = await client.send(
        new GetWebIdentityTokenCommand({
          Audience: request.audiences,
          SigningAlgorithm: request.algorithm,
          DurationSeconds: request.durationSeconds,
          Tags: request.tags && Object.keys(request.tags).length > 0 ? Object.entries(request.tags).map(([Key, Value]) => ({ Key, Value })) : undefined,
        }),
      );
      if (!out.WebIdentityToken || !out.Expiration) throw new CredentialError('sts-jwt', 'GetWebIdentityToken answered without a token', 'unknown');
      return { value: { token: new Secret(out.WebIdentityToken), expiresAt: out.Expiration }, expiresAt: out.Expiration.getTime() };
    } catch (err) {
      if (awsErrorCode(err) === 'SessionDurationEscalationException' && !retried) {
        const allowed = await this.sessionSecondsLeft(request.roleArn);
        if (allowed !== undefined && allowed >= 60) return this.mint({ ...request, durationSeconds: Math.min(allowed, request.durationSeconds) }, true);
      }
      throw this.explain(err, request);
    }
  }

  /** Seconds the signing session still has (less a margin), when its credentials say when they end. */
  private async sessionSecondsLeft(roleArn: string | undefined): Promise<number | undefined> {
    const creds = this.clients.credentialsFor(roleArn) ?? this.clients.sts(undefined, roleArn).config.credentials;
    const identity = typeof creds === 'function' ? await creds() : creds;
    if (!identity?.expiration) return undefined;
    return Math.floor((identity.expiration.getTime() - Date.now()) / 1000) - 10;
  }

  private explain(err: unknown, request: JwtRequest): Error {
    if (err instanceof CredentialError || err instanceof ConfigError) return err;
    const code = awsErrorCode(err);
    const who = request.roleArn ? `role ${request.roleArn}` : 'the node identity';
    switch (code) {
      case 'OutboundWebIdentityFederationDisabledException':
        return new CredentialError('sts-jwt', `outbound identity federation is not enabled for the AWS account of ${who} (aws iam enable-outbound-web-identity-federation)`, code, { cause: err });
      case 'AccessDenied':
        return new CredentialError('sts-jwt', `AccessDenied for ${who}: it needs sts:GetWebIdentityToken for audiences ${request.audiences.join(', ')}${request.tags ? ' and sts:TagGetWebIdentityToken' : ''}, and outbound identity federation must be enabled for the account (${(err as Error).message})`, code, { cause: err });
      case 'SessionDurationEscalationException':
        return new CredentialError('sts-jwt', `the AWS session of ${who} ends too soon for a ${request.durationSeconds}s JWT (${(err as Error).message})`, code, { cause: err });
      case 'JWTPayloadSizeExceededException':
        return new ConfigError(request.tagsSetting ?? 'tags', `AWS refused the JWT as too large: use fewer or shorter tags (${Object.keys(request.tags ?? {}).length} given)`);
      default:
        return new CredentialError('sts-jwt', `GetWebIdentityToken failed for ${who}: ${awsErrorText(err)}`, code, { cause: err });
    }
  }
}
