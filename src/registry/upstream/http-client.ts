import http from 'node:http';
import https from 'node:https';
import { readCapped } from '../../lib/read-capped';
import { RegistryError } from '../errors';
import { FORBIDDEN_DESTINATION } from './redirect-policy';

export interface SendOptions {
  method: string;
  headers: Record<string, string>;
  /** Until the response headers arrive, and the longest pause while the body streams. */
  timeoutMs: number;
  agents: Agents;
  /** Extra TLS trust (PEM) for https upstreams. */
  ca?: string;
  /** Name the failure (errno, TLS) to the client: only for a destination the configuration chose. Default false. */
  reveal?: boolean;
}

/** One keep-alive agent per scheme, owned by one upstream. */
export interface Agents {
  http: http.Agent;
  https: https.Agent;
}

/** Pooled keep-alive agents; `maxSockets` bounds the connections to one host. */
export function createAgents(maxSockets = 256, ca?: string): Agents {
  return {
    http: new http.Agent({ keepAlive: true, maxSockets, scheduling: 'lifo' }),
    https: new https.Agent({ keepAlive: true, maxSockets, scheduling: 'lifo', ca }),
  };
}

/**
 * Sends one request (no body) and resolves with the response once its
 * headers arrive. A network failure or timeout rejects with UNAVAILABLE naming
 * the upstream and why (see `failureReason`), never the URL or a header.
 * The reason reaches the client (`docker pull` prints the message) only when
 * `options.reveal` says the destination is the configured one — the upstream's
 * own URL, or a token realm allowed its credentials: its address is the
 * admin's choice, so `ECONNREFUSED` tells a client nothing it could not learn
 * from the config. A destination the upstream chose (a blob redirect to
 * another host) gets only `unreachable` or `timeout`, else the facade would
 * be a port scanner's oracle. The body is then watched by `watchBody`. (A
 * socket idle timeout would do the same, but it re-arms a timer on every chunk
 * and costs a third of blob throughput.)
 */
export function send(url: URL, options: SendOptions, upstream: string): Promise<http.IncomingMessage> {
  const secure = url.protocol === 'https:';
  const lib = secure ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, {
      method: options.method,
      headers: options.headers,
      agent: secure ? options.agents.https : options.agents.http,
    });
    const fail = (reason: string) => reject(upstreamFailure(upstream, reason, options.reveal === true, options.timeoutMs));
    const timer = setTimeout(() => {
      req.destroy();
      fail('timeout');
    }, options.timeoutMs);
    req.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === FORBIDDEN_DESTINATION) {
        reject(new RegistryError('UNAVAILABLE', `upstream ${upstream} redirected to a destination that is not allowed`, { upstream, reason: 'forbidden_redirect' }));
      } else fail(failureReason(err));
    });
    req.once('response', (res) => {
      clearTimeout(timer);
      watchBody(res, options.timeoutMs);
      resolve(res);
    });
    req.end();
  });
}

/** Network errors named as they are: DNS, refused, reset, no route. Anything else is `unreachable`. */
const NAMED = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE']);
const TLS = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH|EPROTO$)/;

/**
 * Why a request to an upstream failed, as a short bounded word (a metric
 * label): an errno from NAMED, `tls` for a handshake or certificate failure,
 * `timeout`, else `unreachable`.
 */
export function failureReason(err: NodeJS.ErrnoException): string {
  const code = typeof err.code === 'string' ? err.code : '';
  if (NAMED.has(code)) return code;
  if (TLS.test(code) || /certificate|SSL|TLS/i.test(err.message ?? '')) return 'tls';
  return 'unreachable';
}

/**
 * The client's error for an upstream that could not be reached: `upstream
 * docker-hub unreachable: ENOTFOUND`, `… timed out after 30s`, `… TLS
 * handshake failed` when `reveal`; `upstream docker-hub is unavailable` with
 * only `unreachable`/`timeout` in `detail.reason` otherwise (the precise
 * reason then in `cause`, which is logged but never sent).
 */
function upstreamFailure(upstream: string, reason: string, reveal: boolean, timeoutMs: number): RegistryError {
  if (!reveal) {
    const coarse = reason === 'timeout' ? 'timeout' : 'unreachable';
    // The precise reason stays on this side, for the facade's log and metric only.
    return Object.assign(new RegistryError('UNAVAILABLE', `upstream ${upstream} is unavailable`, { upstream, reason: coarse }), { cause: reason });
  }
  const message =
    reason === 'timeout' ? `upstream ${upstream} timed out after ${timeoutMs / 1000}s`
    : reason === 'tls' ? `upstream ${upstream} unreachable: TLS handshake failed`
    : `upstream ${upstream} unreachable: ${reason}`;
  return new RegistryError('UNAVAILABLE', message, { upstream, reason });
}

/**
 * Cuts a response body that stops arriving for `ms` while its reader is
 * waiting for it (a paused body — the client is slow — is not stalled).
 * One coarse timer per response.
 */
function watchBody(res: http.IncomingMessage, ms: number): void {
  let last = -1;
  const timer = setInterval(() => {
    const read = res.socket?.bytesRead ?? 0;
    if (read === last && !res.isPaused()) res.destroy(new Error('upstream stalled'));
    last = read;
  }, ms);
  timer.unref();
  res.once('close', () => clearInterval(timer));
}

/** Reads a small body (an error document, a token) up to `limit` bytes; more is a BodyTooLargeError (readCapped). */
export function readSmall(res: http.IncomingMessage, limit = 64 * 1024): Promise<Buffer> {
  return readCapped(res, limit);
}

/** Drains and discards a body so that the connection can be reused. */
export function discard(res: http.IncomingMessage): void {
  res.resume();
}
