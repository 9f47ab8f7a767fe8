import { randomUUID } from 'node:crypto';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { faultOf } from './fault';
import type { Principals } from './principals';
import { stsResponse, xmlText } from './sts';

/**
 * An OpenID Connect provider the stand-in's account trusts (IAM
 * CreateOpenIDConnectProvider): tokens from `issuer`, verified against
 * `jwksUrl`, with `audience` in `aud`. `subjects`, when given for a role, is
 * that role's trust policy condition on `sub` (StringEquals); a role not
 * listed trusts every subject of the provider.
 */
export interface OidcProvider {
  issuer: string;
  jwksUrl: string;
  /** The client ID list; default `sts.amazonaws.com`. */
  audience?: string;
  subjects?: Record<string, string[]>;
}

/**
 * AssumeRoleWithWebIdentity as STS answers it (API version 2011-06-15, an
 * unsigned Query call): the token's signature, issuer, audience and expiry
 * are checked against a trusted provider's JWKS; errors use AWS's codes
 * (`InvalidIdentityToken`, `ExpiredTokenException`, `AccessDenied`).
 */
export class WebIdentityTrust {
  private readonly providers: { provider: OidcProvider; jwks: ReturnType<typeof createRemoteJWKSet> }[] = [];

  trust(provider: OidcProvider): void {
    this.providers.push({ provider, jwks: createRemoteJWKSet(new URL(provider.jwksUrl)) });
  }

  async assume(params: URLSearchParams, principals: Principals, now: number): Promise<{ xml: string; roleArn: string }> {
    const roleArn = params.get('RoleArn') ?? '';
    const token = params.get('WebIdentityToken') ?? '';
    const sessionName = params.get('RoleSessionName') ?? '';
    const m = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]+)$/.exec(roleArn);
    if (!m) throw faultOf('ValidationError', `${roleArn} is invalid`);
    if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) throw faultOf('ValidationError', `RoleSessionName '${sessionName}' is invalid`);
    if (token.length < 4 || token.length > 20_000) throw faultOf('ValidationError', 'WebIdentityToken must have length between 4 and 20000');
    const duration = Number(params.get('DurationSeconds') ?? 3600);
    if (!Number.isInteger(duration) || duration < 900 || duration > 43200) throw faultOf('ValidationError', `DurationSeconds ${duration} is out of range`);
    let iss: string | undefined;
    try {
      iss = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')).iss;
    } catch {
      throw faultOf('InvalidIdentityToken', 'Couldn\'t parse the web identity token');
    }
    const trusted = this.providers.find((p) => p.provider.issuer === iss);
    if (!trusted) throw faultOf('InvalidIdentityToken', `No OpenIDConnect provider found in your account for ${iss ?? '(no issuer)'}`);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, trusted.jwks, {
        issuer: trusted.provider.issuer, audience: trusted.provider.audience ?? 'sts.amazonaws.com', currentDate: new Date(now),
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw faultOf('ExpiredTokenException', 'Token expired: current date/time must be before the expiration date/time.');
      throw faultOf('InvalidIdentityToken', `Incorrect token audience or signature (${(err as Error).message})`);
    }
    const allowed = trusted.provider.subjects?.[roleArn];
    if (allowed && !allowed.includes(String(payload.sub))) throw faultOf('AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
    const creds = principals.assume(roleArn, duration, now);
    const xml = stsResponse(
      'AssumeRoleWithWebIdentity',
      `<SubjectFromWebIdentityToken>${xmlText(String(payload.sub))}</SubjectFromWebIdentityToken><Audience>${xmlText(String(payload.aud))}</Audience>` +
        `<AssumedRoleUser><Arn>arn:aws:sts::${m[1]}:assumed-role/${xmlText(m[2])}/${xmlText(sessionName)}</Arn>` +
        `<AssumedRoleId>AROASTANDIN${randomUUID().slice(0, 8).toUpperCase()}:${xmlText(sessionName)}</AssumedRoleId></AssumedRoleUser>` +
        `<Credentials><AccessKeyId>${creds.accessKeyId}</AccessKeyId><SecretAccessKey>${xmlText(creds.secretAccessKey)}</SecretAccessKey>` +
        `<SessionToken>${xmlText(creds.sessionToken)}</SessionToken><Expiration>${new Date(creds.expiresAt).toISOString()}</Expiration></Credentials>` +
        `<Provider>${xmlText(trusted.provider.issuer)}</Provider>`,
    );
    return { xml, roleArn };
  }
}
