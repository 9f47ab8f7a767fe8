import { BodyTooLargeError, readCapped } from '../../../lib/read-capped';

/** An HTTP answer from an auth backend: status and, when it parsed, the JSON body. */
export interface BackendAnswer {
  status: number;
  json?: unknown;
}

const MAX_BODY = 64 * 1024;

/**
 * POSTs to an auth backend with a deadline covering the whole exchange.
 * Redirects are not followed (their 3xx is the answer); bodies over 64 KiB
 * or not JSON leave `json` undefined. Throws on network failure or timeout.
 */
export async function postToBackend(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<BackendAnswer> {
  const signal = AbortSignal.timeout(timeoutMs);
  const res = await fetch(url, { method: 'POST', body, headers: { accept: 'application/json', ...headers }, redirect: 'manual', signal });
  let answer: Buffer;
  try {
    answer = res.body ? await readCapped(res.body, MAX_BODY) : Buffer.alloc(0);
  } catch (err) {
    if (err instanceof BodyTooLargeError) return { status: res.status };
    throw err;
  }
  try {
    return { status: res.status, json: JSON.parse(answer.toString('utf8')) };
  } catch {
    return { status: res.status };
  }
}
