/** The query parameters a presigned GetCallerIdentity may carry (aws-iam-authenticator's list); anything else is refused. */
const ALLOWED = new Set([
  'action', 'version', 'x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-expires',
  'x-amz-security-token', 'x-amz-signature', 'x-amz-signedheaders',
]);

/** A presigned request that passed every local check, ready to be replayed. */
export interface CheckedRequest {
  /** The STS host it was signed for (one of the configured ones). */
  host: string;
  /** The query to replay, re-serialised from the checked parameters. */
  query: string;
  /** Epoch ms after which the signature is no longer accepted (the earlier of X-Amz-Expires and the longest lifetime allowed). */
  expiresAt: number;
  accessKeyId: string;
}

export interface RequestRules {
  /** Lower-case STS hosts accepted. */
  hosts: ReadonlySet<string>;
  /** Lower-case audience header that must be signed. */
  header: string;
  /** Longest X-Amz-Expires accepted, and the longest a signature is honoured after X-Amz-Date (ms). */
  maxLifetimeMs: number;
  /** How far in the future X-Amz-Date may be (ms). */
  clockSkewMs: number;
  now: number;
}

/**
 * Checks a presigned `sts:GetCallerIdentity` URL before anything is sent
 * anywhere, as aws-iam-authenticator's verifier does: https, a configured STS
 * host (the token's host is only ever compared, never dialled), path `/`, no
 * user info, port or fragment, only the known query parameters and each
 * once, Action GetCallerIdentity, Version 2011-06-15, AWS4-HMAC-SHA256 scoped
 * to `sts`, `host` and the audience header among the signed headers, and a
 * signing time and lifetime that are current. Returns the reason on refusal.
 */
export function checkPresigned(text: string, rules: RequestRules): CheckedRequest | { refused: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { refused: 'not a URL' };
  }
  if (url.protocol !== 'https:') return { refused: 'not https' };
  if (url.username || url.password || url.port || url.hash) return { refused: 'URL has user info, a port or a fragment' };
  const host = url.hostname.toLowerCase();
  if (!rules.hosts.has(host)) return { refused: `host ${host.slice(0, 100)} is not a configured STS host` };
  if (url.pathname !== '/') return { refused: 'path is not /' };
  const seen = new Map<string, string>();
  for (const [key, value] of url.searchParams) {
    const k = key.toLowerCase();
    if (!ALLOWED.has(k)) return { refused: `unexpected query parameter ${key.slice(0, 40)}` };
    if (seen.has(k)) return { refused: `query parameter ${key} given twice` };
    seen.set(k, value);
  }
  if (seen.get('action') !== 'GetCallerIdentity') return { refused: 'action is not GetCallerIdentity' };
  if (seen.get('version') !== '2011-06-15') return { refused: 'version is not 2011-06-15' };
  if (seen.get('x-amz-algorithm') !== 'AWS4-HMAC-SHA256') return { refused: 'algorithm is not AWS4-HMAC-SHA256' };
  const credential = /^([A-Z0-9]{16,128})\/(\d{8})\/([a-z0-9-]+)\/sts\/aws4_request$/.exec(seen.get('x-amz-credential') ?? '');
  if (!credential) return { refused: 'credential is not scoped to sts' };
  const hostRegion = /^sts\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(host)?.[1];
  if (hostRegion !== undefined && hostRegion !== credential[3]) return { refused: `credential is scoped to ${credential[3]}, not to the host's region` };
  const signed = (seen.get('x-amz-signedheaders') ?? '').split(';');
  if (!signed.includes('host')) return { refused: 'host is not signed' };
  if (!signed.includes(rules.header)) return { refused: `${rules.header} is not signed` };
  if (!/^[0-9a-f]{64}$/.test(seen.get('x-amz-signature') ?? '')) return { refused: 'signature is malformed' };
  const date = parseAmzDate(seen.get('x-amz-date') ?? '');
  if (date === undefined) return { refused: 'X-Amz-Date is malformed' };
  const expires = Number(seen.get('x-amz-expires'));
  if (!Number.isInteger(expires) || expires < 1) return { refused: 'X-Amz-Expires is malformed' };
  if (expires * 1000 > rules.maxLifetimeMs) return { refused: `X-Amz-Expires ${expires}s is longer than allowed` };
  if (date > rules.now + rules.clockSkewMs) return { refused: 'X-Amz-Date is in the future' };
  const expiresAt = date + expires * 1000;
  if (rules.now >= expiresAt) return { refused: 'expired' };
  const query = [...url.searchParams].map(([k, v]) => `${encodeRfc3986(k)}=${encodeRfc3986(v)}`).join('&');
  return { host, query, expiresAt, accessKeyId: credential[1] };
}

function parseAmzDate(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : undefined;
}

function encodeRfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
