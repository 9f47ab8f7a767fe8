import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** What the stand-in reads from a SigV4 `Authorization` header. */
export interface SigV4Scope {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
}

const HEADER = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,\s]+), ?Signature=([0-9a-f]{64})$/;

/** The problem with a request's signature, in AWS's words, or undefined when its scope is right. */
export type ScopeCheck = { ok: true; scope: SigV4Scope } | { ok: false; code: string; message: string };

/**
 * Parses `Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261122/us-east-1/sts/aws4_request, ...`
 * and checks that it is scoped to `service` and to a region the stand-in accepts.
 */
export function checkScope(header: string | undefined, service: string, regionOk: (region: string) => boolean): ScopeCheck {
  if (!header) return { ok: false, code: 'MissingAuthenticationToken', message: 'Request is missing Authentication Token' };
  const m = HEADER.exec(header.trim());
  if (!m) return { ok: false, code: 'IncompleteSignature', message: 'Authorization header requires a valid AWS4-HMAC-SHA256 Credential, SignedHeaders and Signature' };
  const [, accessKeyId, date, region, signedService] = m;
  if (signedService !== service) {
    return { ok: false, code: 'SignatureDoesNotMatch', message: `Credential should be scoped to correct service: '${service}'.` };
  }
  if (!regionOk(region)) {
    return { ok: false, code: 'SignatureDoesNotMatch', message: `Credential should be scoped to a valid region, not '${region}'.` };
  }
  return { ok: true, scope: { accessKeyId, date, region, service } };
}

/** A commercial-partition-shaped region name such as `eu-west-1` (not `aws-global`). */
export function looksLikeRegion(region: string): boolean {
  return /^[a-z]{2}(-[a-z]+)+-\d+$/.test(region);
}

/** What a signature is computed over. */
export interface SignedRequest {
  method: string;
  /** Path and query as received, e.g. `/` or `/?a=b`. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * Recomputes the SigV4 signature of a request (written from the SigV4
 * specification, independently of the SDK's signer) with `secret`, and
 * answers whether it equals the one in its Authorization header.
 */
export function signatureMatches(req: SignedRequest, scope: SigV4Scope, secret: string): boolean {
  const m = HEADER.exec(String(req.headers.authorization ?? '').trim());
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  if (!m || !amzDate.startsWith(scope.date)) return false;
  const signedHeaders = m[5].split(';');
  const [path, query = ''] = req.url.split('?');
  const canonicalQuery = query
    .split('&')
    .filter(Boolean)
    .map((p) => p.split('=').map((s) => encodeRfc3986(decodeURIComponent(s))).join('='))
    .sort()
    .join('&');
  const canonicalHeaders = signedHeaders
    .map((h) => `${h}:${[req.headers[h] ?? ''].flat().join(',').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonicalRequest = [req.method, path || '/', canonicalQuery, canonicalHeaders, m[5], sha256(req.body)].join('\n');
  const credentialScope = `${scope.date}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, credentialScope, sha256(canonicalRequest)].join('\n');
  let key = hmac(`AWS4${secret}`, scope.date);
  for (const part of [scope.region, scope.service, 'aws4_request']) key = hmac(key, part);
  const expected = hmac(key, stringToSign).toString('hex');
  return timingSafeEqual(Buffer.from(expected), Buffer.from(m[6]));
}

/** SigV4 primitive, shared by header-signed and presigned checks. */
export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** SigV4 primitive, shared by header-signed and presigned checks. */
export function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** SigV4 primitive, shared by header-signed and presigned checks. */
export function encodeRfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
