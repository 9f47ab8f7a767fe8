import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Secret } from '../log/secret';
import type { Route } from './route';

/** Hop-by-hop headers (RFC 9110 §7.6.1 and the usual non-standard ones): never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Drops hop-by-hop headers and every header the Connection header names. */
export function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = String(headers.connection ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

export interface InjectOptions {
  /** Lower-case header that carries the token. */
  authHeader: string;
  /** `Bearer`, or empty for the bare token. */
  authScheme: string;
}

/**
 * The headers sent upstream: end-to-end headers only, without the routing
 * header, with the upstream's Host, the client appended to X-Forwarded-For,
 * and the token in the auth header (replacing whatever the client sent there).
 * A chunked request body is re-chunked on this hop (whatever the method).
 * For a WebSocket handshake the Connection/Upgrade pair is kept.
 */
export function upstreamHeaders(req: IncomingMessage, route: Route, token: Secret, inject: InjectOptions, upgrade = false): OutgoingHttpHeaders {
  const out = endToEnd(req.headers);
  if (route.strip) delete out[route.strip];
  delete out.expect;
  out.host = route.target.authority;
  const client = req.socket.remoteAddress?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  if (client) {
    const prior = req.headers['x-forwarded-for'];
    out['x-forwarded-for'] = prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${client}` : client;
  }
  if (req.headers['transfer-encoding'] !== undefined && req.headers['content-length'] === undefined) out['transfer-encoding'] = 'chunked';
  out[inject.authHeader] = inject.authScheme ? `${inject.authScheme} ${token.reveal()}` : token.reveal();
  if (upgrade) {
    out.connection = 'Upgrade';
    out.upgrade = req.headers.upgrade;
  }
  return out;
}

/** The upstream response's headers as relayed to the client. */
export function downstreamHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  return endToEnd(headers);
}
