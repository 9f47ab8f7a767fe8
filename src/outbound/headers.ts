import type { IncomingMessage } from 'node:http';
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

/**
 * Headers as node:http's `rawHeaders` and `writeHead`/`request` take them:
 * names and values alternating, names in the sender's case, repeated headers
 * kept apart. Working on these skips building and re-validating header objects.
 */
export type RawHeaders = string[];

export interface InjectOptions {
  /** Lower-case header that carries the token. */
  authHeader: string;
  /** `Bearer`, or empty for the bare token. */
  authScheme: string;
}

const NONE: readonly string[] = [];

/** Lower-case names the Connection header lists (they are hop-by-hop too); empty when it lists none. */
function connectionNamed(raw: RawHeaders): readonly string[] {
  let named: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length !== 10 || raw[i].toLowerCase() !== 'connection') continue;
    for (const part of raw[i + 1].split(',')) {
      const name = part.trim().toLowerCase();
      if (name) (named ??= []).push(name);
    }
  }
  return named ?? NONE;
}

/** Copies `raw` without hop-by-hop headers and those the Connection header names. */
function endToEnd(raw: RawHeaders): RawHeaders {
  const named = connectionNamed(raw);
  const out: RawHeaders = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(name) || (named.length > 0 && named.includes(name))) continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
}

/**
 * The headers sent upstream: end-to-end headers only, without the routing
 * header, with the upstream's Host, the client appended to X-Forwarded-For,
 * and the token in the auth header (replacing whatever the client sent there).
 * A chunked request body is re-chunked on this hop (whatever the method).
 * For a WebSocket handshake the Connection/Upgrade pair is kept.
 */
export function upstreamHeaders(req: IncomingMessage, route: Route, token: Secret, inject: InjectOptions, upgrade = false): RawHeaders {
  const raw = req.rawHeaders;
  const named = connectionNamed(raw);
  const out: RawHeaders = [];
  let forwardedFor: string | undefined;
  let upgradeTo = '';
  let chunked = false;
  let sized = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const value = raw[i + 1];
    if (name === 'x-forwarded-for') {
      forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
      continue;
    }
    if (name === 'transfer-encoding') chunked = true;
    else if (name === 'content-length') sized = true;
    else if (name === 'upgrade') upgradeTo = value;
    if (HOP_BY_HOP.has(name) || name === 'host' || name === 'expect' || name === inject.authHeader || name === route.strip) continue;
    if (named.length > 0 && named.includes(name)) continue;
    out.push(raw[i], value);
  }
  out.push('host', route.target.authority);
  const client = req.socket.remoteAddress?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  if (client) out.push('x-forwarded-for', forwardedFor === undefined ? client : `${forwardedFor}, ${client}`);
  if (chunked && !sized) out.push('transfer-encoding', 'chunked');
  out.push(inject.authHeader, inject.authScheme ? `${inject.authScheme} ${token.reveal()}` : token.reveal());
  if (upgrade) out.push('connection', 'Upgrade', 'upgrade', upgradeTo);
  return out;
}

/** The upstream response's headers as relayed to the client. */
export function downstreamHeaders(raw: RawHeaders): RawHeaders {
  return endToEnd(raw);
}
