import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import { Secret } from '../log/secret';
import type { AwsClients } from './aws-clients';
import { AWS_IAM_AUDIENCE_HEADER, encodeAwsIamToken, regionalStsHost } from './aws-iam-token';
import { CredentialError, awsErrorCode, awsErrorText } from './errors';
import type { TokenCache } from './token-cache';

export interface AwsIamTokenRequest {
  /** Value of the signed audience header; the verifier must expect exactly this. */
  audience: string;
  /** Name of the signed audience header. Default `x-imagegate-audience`. */
  header?: string;
  /** STS region whose regional host the request is signed for. Default: AwsOptions.region / the SDK chain. */
  region?: string;
  /** STS host signed into the request. Default `sts.<region>.amazonaws.com`. */
  stsHost?: string;
  /** Sign as this role (AssumeRole first). Default: the base identity. */
  roleArn?: string;
  /** X-Amz-Expires, 1–900 seconds. Default 900. */
  expiresSeconds?: number;
  /** Refresh this long before expiry (capped at half the lifetime). Default half the lifetime. */
  refreshSkewMs?: number;
}

/** A presigned-request token and the moment it stops working. */
export interface AwsIamToken {
  token: Secret;
  expiresAt: Date;
}

/**
 * Presigned `sts:GetCallerIdentity` tokens (the `aws-iam` provider) behind the
 * shared token cache, one per (region, host, role, header, audience,
 * lifetime). Signing is local (no AWS call) except for the credentials
 * themselves; a token lives until its X-Amz-Expires or its session's end,
 * whichever is first. Safe under concurrency.
 */
export class AwsIamTokens {
  constructor(
    private readonly clients: AwsClients,
    private readonly cache: TokenCache,
  ) {}

  get(request: AwsIamTokenRequest): Promise<AwsIamToken> {
    const region = request.region ?? this.clients.options.region;
    if (!region) return Promise.reject(new CredentialError('aws-iam', 'no AWS region: set credentials.aws.region, the rule\'s with.region, or AWS_REGION'));
    const host = (request.stsHost ?? regionalStsHost(region)).toLowerCase();
    const header = (request.header ?? AWS_IAM_AUDIENCE_HEADER).toLowerCase();
    const expires = request.expiresSeconds ?? 900;
    const key = `aws-iam:${region}|${host}|${request.roleArn ?? ''}|${expires}|${header}|${request.audience}`;
    return this.cache.get(key, () => this.mint({ ...request, region, stsHost: host, header, expiresSeconds: expires }), { skewMs: request.refreshSkewMs });
  }

  private async mint(r: Required<Pick<AwsIamTokenRequest, 'region' | 'stsHost' | 'header' | 'expiresSeconds' | 'audience'>> & AwsIamTokenRequest) {
    let credentials: AwsCredentialIdentity;
    try {
      const source = this.clients.credentialsFor(r.roleArn) ?? this.clients.sts(r.region).config.credentials;
      credentials = typeof source === 'function' ? await source() : source;
    } catch (err) {
      if (err instanceof CredentialError) throw err;
      throw new CredentialError('aws-iam', `no AWS credentials to sign with: ${awsErrorText(err)}`, awsErrorCode(err), { cause: err });
    }
    const signer = new SignatureV4({ credentials, region: r.region, service: 'sts', sha256: Hash.bind(null, 'sha256'), uriEscapePath: true });
    const now = new Date();
    const request = new HttpRequest({
      method: 'GET',
      protocol: 'https:',
      hostname: r.stsHost,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host: r.stsHost, [r.header]: r.audience },
    });
    const signed = await signer.presign(request, { expiresIn: r.expiresSeconds, signingDate: now });
    const query = Object.entries(signed.query ?? {})
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join('&');
    const url = `https://${r.stsHost}/?${query}`;
    const until = Math.min(now.getTime() + r.expiresSeconds * 1000, credentials.expiration?.getTime() ?? Infinity);
    return { value: { token: new Secret(encodeAwsIamToken(url)), expiresAt: new Date(until) }, expiresAt: until };
  }
}
