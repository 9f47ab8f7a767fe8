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
 * only the upstream and `timeout` or `unreachable` — never the URL, a header
 * or the errno (which would make the facade a port scanner's oracle). The body is then
 * watched by `watchBody`. (A socket idle timeout would do the same, but it
 * re-arms a timer on every chunk and costs a third of blob throughput.)
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
    const fail = (why: 'timeout' | 'unreachable') =>
      reject(new RegistryError('UNAVAILABLE', `upstream ${upstream} is unavailable`, { upstream, reason: why }));
    const timer = setTimeout(() => {
      req.destroy();
      fail('timeout');
    }, options.timeoutMs);
    req.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === FORBIDDEN_DESTINATION) {
        reject(new RegistryError('UNAVAILABLE', `upstream ${upstream} redirected to a destination that is not allowed`, { upstream }));
      } else fail('unreachable');
    });
    req.once('response', (res) => {
      clearTimeout(timer);
      watchBody(res, options.timeoutMs);
      resolve(res);
    });
    req.end();
  });
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
