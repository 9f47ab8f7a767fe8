import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { AwsFault } from './fault';
import type { Principal, Principals } from './principals';
import { encodeRfc3986, hmac, sha256 } from './sigv4';
import { STS_XMLNS } from './sts';

/** What a presigned GetCallerIdentity request proved: who signed it. */
export interface PresignedCaller {
  principal: Principal;
  accessKeyId: string;
  region: string;
}

const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

/**
 * Verifies a SigV4 query-string-signed (presigned) STS request the way STS
 * does for aws-iam-authenticator tokens and Vault's `aws` auth: algorithm
 * AWS4-HMAC-SHA256, credential scoped to `sts` and a region (the region of a
 * regional Host too), `X-Amz-Date` + `X-Amz-Expires` not passed (and not more
 * than 15 minutes in the future), and the signature recomputed over the
 * canonical request — method, path, every query parameter but the
 * signature, the headers listed in `X-Amz-SignedHeaders` with the values this
 * request carries (the audience header included), and the empty payload.
 * Keys the stand-in does not know are refused (InvalidClientTokenId): a
 * presigned request is only worth anything when its signature is checked.
 * Throws AwsFault with STS's code and status.
 */
export function verifyPresigned(
  req: { method: string; url: string; headers: Record<string, string | string[] | undefined> },
  principals: Principals,
  regionOk: (region: string) => boolean,
  now: number,
): PresignedCaller {
  const [path, rawQuery = ''] = req.url.split('?');
  const pairs = rawQuery.split('&').filter(Boolean).map((p) => p.split('=').map((s) => decodeURIComponent(s.replace(/\+/g, '%20'))) as [string, string?]);
  const q = new Map(pairs.map(([k, v]) => [k, v ?? '']));
  if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') throw new AwsFault('IncompleteSignature', 400, 'X-Amz-Algorithm must be AWS4-HMAC-SHA256');
  const cred = /^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/.exec(q.get('X-Amz-Credential') ?? '');
  if (!cred) throw new AwsFault('IncompleteSignature', 400, 'X-Amz-Credential is malformed');
  const [, accessKeyId, date, region, service] = cred;
  if (service !== 'sts') throw new AwsFault('SignatureDoesNotMatch', 403, `Credential should be scoped to correct service: 'sts'.`);
  const host = String(req.headers.host ?? '').toLowerCase();
  const hostRegion = /^sts\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(host)?.[1];
  if (!regionOk(region) || (hostRegion !== undefined && hostRegion !== region)) {
    throw new AwsFault('SignatureDoesNotMatch', 403, `Credential should be scoped to a valid region, not '${region}'.`);
  }
  const amzDate = q.get('X-Amz-Date') ?? '';
  const signedAt = parseAmzDate(amzDate);
  const expires = Number(q.get('X-Amz-Expires'));
  if (signedAt === undefined || !amzDate.startsWith(date)) throw new AwsFault('IncompleteSignature', 400, 'X-Amz-Date is malformed');
  if (!Number.isInteger(expires) || expires < 1 || expires > 604_800) throw new AwsFault('AuthorizationQueryParametersError', 400, 'X-Amz-Expires must be between 1 and 604800 seconds');
  if (signedAt > now + 15 * 60_000) throw new AwsFault('SignatureDoesNotMatch', 403, 'Signature not yet current');
  if (now > signedAt + expires * 1000) throw new AwsFault('AccessDenied', 403, 'Request has expired');
  const secret = principals.secretOf(accessKeyId);
  if (!secret) throw new AwsFault('InvalidClientTokenId', 403, 'The security token included in the request is invalid.');
  const signedHeaders = (q.get('X-Amz-SignedHeaders') ?? '').split(';');
  if (!signedHeaders.includes('host')) throw new AwsFault('SignatureDoesNotMatch', 403, 'host must be a signed header');
  const canonicalQuery = pairs
    .filter(([k]) => k !== 'X-Amz-Signature')
    .map(([k, v]) => [encodeRfc3986(k), encodeRfc3986(v ?? '')])
    .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalHeaders = signedHeaders.map((h) => `${h}:${[req.headers[h] ?? ''].flat().join(',').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonicalRequest = [req.method, path || '/', canonicalQuery, canonicalHeaders, signedHeaders.join(';'), EMPTY_SHA256].join('\n');
  const scope = `${date}/${region}/sts/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  let key = hmac(`AWS4${secret}`, date);
  for (const part of [region, 'sts', 'aws4_request']) key = hmac(key, part);
  const expected = Buffer.from(hmac(key, stringToSign).toString('hex'));
  const given = Buffer.from(q.get('X-Amz-Signature') ?? '');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new AwsFault('SignatureDoesNotMatch', 403, 'The request signature we calculated does not match the signature you provided.');
  }
  return { principal: principals.of(accessKeyId), accessKeyId, region };
}

/**
 * GetCallerIdentity's answer as STS gives it to a role session: the
 * assumed-role ARN (`arn:aws:sts::<account>:assumed-role/<role>/<session>`)
 * and `AROA…:<session>` — never the role's own ARN, which is why verifiers
 * normalise. Long-term keys of a user answer the user's ARN.
 */
export function callerIdentity(principal: Principal, session: string): { Arn: string; Account: string; UserId: string } {
  const role = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]+)$/.exec(principal.arn);
  const id = createHash('sha256').update(principal.arn).digest('hex').slice(0, 17).toUpperCase();
  if (!role) return { Arn: principal.arn, Account: principal.account, UserId: `AIDA${id}` };
  return { Arn: `arn:${role[1]}:sts::${role[2]}:assumed-role/${role[3]}/${session}`, Account: role[2], UserId: `AROA${id}:${session}` };
}

/** STS's JSON answer (what it sends to `Accept: application/json`), or the XML one. */
export function callerIdentityAnswer(identity: { Arn: string; Account: string; UserId: string }, json: boolean): string {
  const requestId = randomUUID();
  if (json) return JSON.stringify({ GetCallerIdentityResponse: { GetCallerIdentityResult: identity, ResponseMetadata: { RequestId: requestId } } });
  const x = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return (
    `<GetCallerIdentityResponse xmlns="${STS_XMLNS}"><GetCallerIdentityResult><Arn>${x(identity.Arn)}</Arn><UserId>${x(identity.UserId)}</UserId>` +
    `<Account>${identity.Account}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`
  );
}

/** STS's JSON error document. */
export function jsonError(fault: AwsFault): string {
  return JSON.stringify({ Error: { Code: fault.code, Message: fault.message, Type: fault.status >= 500 ? 'Receiver' : 'Sender' }, RequestId: randomUUID() });
}

function parseAmzDate(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : undefined;
}
