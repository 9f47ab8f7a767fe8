import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { AWS_IAM_AUDIENCE_HEADER, encodeAwsIamToken } from '../../../../src/credentials/aws-iam-token';
import { standInCredentials } from '../../../../testing/aws';

export interface PresignOptions {
  audience: string;
  /** Host signed into the request and put in the URL. Default sts.eu-west-1.amazonaws.com. */
  host?: string;
  region?: string;
  /** Signed audience header name; `null` signs no audience header. Default x-imagegate-audience. */
  header?: string | null;
  /** Signing time. Default now. */
  date?: Date;
  /** X-Amz-Expires. Default 900. */
  expires?: number;
  /** Extra query parameters, signed with the rest. */
  extraQuery?: Record<string, string>;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/**
 * A presigned GetCallerIdentity URL signed with the stand-in's static key, built
 * by hand (the SDK's own SigV4 signer) so that tests can make the ones the
 * `aws-iam` provider never would: another host, another time, no audience
 * header, extra parameters.
 */
export async function presignedUrl(o: PresignOptions): Promise<string> {
  const host = o.host ?? 'sts.eu-west-1.amazonaws.com';
  const [hostname, port] = host.split(':');
  const signer = new SignatureV4({ credentials: o.credentials ?? standInCredentials, region: o.region ?? 'eu-west-1', service: 'sts', sha256: Hash.bind(null, 'sha256') });
  const headers: Record<string, string> = { host };
  if (o.header !== null) headers[o.header ?? AWS_IAM_AUDIENCE_HEADER] = o.audience;
  const req = new HttpRequest({
    method: 'GET', protocol: 'https:', hostname, port: port ? Number(port) : undefined, path: '/',
    query: { Action: 'GetCallerIdentity', Version: '2011-06-15', ...o.extraQuery }, headers,
  });
  const signed = await signer.presign(req, { expiresIn: o.expires ?? 900, signingDate: o.date ?? new Date() });
  const query = Object.entries(signed.query ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
  return `https://${host}/?${query}`;
}

/** The same, as an `aws-iam` token. */
export async function presignedToken(o: PresignOptions): Promise<string> {
  return encodeAwsIamToken(await presignedUrl(o));
}

/** Replaces one query parameter of a token's URL (after signing: the signature no longer covers it). */
export function tamper(url: string, key: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(key, value);
  return encodeAwsIamToken(u.href);
}
