/** What the stand-in reads from a SigV4 `Authorization` header (the signature itself is not recomputed). */
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
