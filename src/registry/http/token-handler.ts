import type { Request, RequestHandler } from 'express';
import { Secret } from '../../log/secret';
import type { ClientCredentials, Identity } from '../auth/authenticator';
import { parseAuthorization } from '../access/credentials';
import type { AccessGate } from '../access/gate';
import { parseScopes } from '../access/scope';
import { RegistryError } from '../errors';
import { formatChallenge } from '../upstream/challenge';
import { facadeUrl } from './facade-url';

export interface TokenOptions {
  gate: AccessGate;
  service: string;
  url?: string;
}

/**
 * The Docker token endpoint: `GET /token?service=…&scope=…` with Basic (or
 * Bearer) credentials, or the OAuth2 form `POST /token` (`grant_type=password`
 * or `refresh_token`). Runs the chain when credentials are given, grants the
 * intersection of the requested and the allowed scopes, and answers
 * `{token, access_token, expires_in, issued_at}`. No credentials → an
 * anonymous token carrying only what anonymous pull allows.
 */
export function tokenHandler(options: TokenOptions): RequestHandler {
  return async (req, res) => {
    res.locals.route = 'token';
    const form = req.method === 'POST' ? formOf(req) : undefined;
    const credentials = form ? formCredentials(form) : parseAuthorization(req.headers.authorization);
    const scopes = parseScopes(form ? [form.scope ?? ''] : listOf(req.query.scope));
    const repository = scopes.find((s) => s.type === 'repository')?.name;
    const challenge = () => formatChallenge('Bearer', { realm: `${facadeUrl(req, options.url)}/token`, service: options.service });
    let identity: Identity | undefined;
    if (credentials) identity = await options.gate.login(credentials, { clientIp: req.ip ?? 'unknown', repository }, challenge);
    const issued = await options.gate.token(identity, scopes);
    res.setHeader('cache-control', 'no-store');
    res.status(200).json({ token: issued.token, access_token: issued.token, expires_in: issued.expiresIn, issued_at: issued.issuedAt });
  };
}

function formOf(req: Request): Record<string, string | undefined> {
  const body = req.body as Record<string, unknown> | undefined;
  if (!body || typeof body !== 'object') throw new RegistryError('UNSUPPORTED', 'expected an application/x-www-form-urlencoded body');
  const pick = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : undefined);
  return { grant_type: pick('grant_type'), username: pick('username'), password: pick('password'), refresh_token: pick('refresh_token'), scope: pick('scope') };
}

function formCredentials(form: Record<string, string | undefined>): ClientCredentials {
  if (form.grant_type === 'password' && form.username && form.password !== undefined) {
    return { kind: 'basic', username: form.username, password: new Secret(form.password) };
  }
  if (form.grant_type === 'refresh_token' && form.refresh_token) return { kind: 'bearer', token: new Secret(form.refresh_token) };
  throw new RegistryError('UNSUPPORTED', 'unsupported grant_type (use password or refresh_token)');
}

function listOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}
