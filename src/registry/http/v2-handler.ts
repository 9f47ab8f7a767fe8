import type { Request, RequestHandler, Response } from 'express';
import { parseAuthorization } from '../access/credentials';
import type { AccessGate, Caller, ChallengeFor } from '../access/gate';
import { RegistryError } from '../errors';
import type { RegistryMetrics } from '../metrics';
import { formatChallenge } from '../upstream/challenge';
import type { Resolved, UpstreamRouter } from '../upstream/router';
import type { UpstreamResponse } from '../upstream/upstream';
import { facadeUrl } from './facade-url';
import { parseV2Path } from './paths';
import { relay } from './relay';
import { readTags } from './tags';

export interface V2Options {
  gate: AccessGate;
  router: UpstreamRouter;
  service: string;
  /** Configured public URL of the facade, when set. */
  url?: string;
  metrics?: RegistryMetrics;
  /** Relay large blobs with the native zero-copy relay where it applies. */
  zeroCopy?: boolean;
}

const EMPTY_INDEX = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] });

/**
 * The pull side of the distribution API under `/v2/`: checks the path, the
 * method (writes are UNSUPPORTED), the caller and its right to pull, then
 * relays the configured upstream's answer. Errors go to the error boundary.
 */
export function v2Handler(options: V2Options): RequestHandler {
  return async (req, res) => {
    const path = parseV2Path(req.path);
    res.locals.route = path.route;
    if (path.route === 'write' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      throw new RegistryError('UNSUPPORTED', 'this registry is read-only: only pulls are supported', undefined, { allow: 'GET, HEAD' });
    }
    const challenge: ChallengeFor = (scope, error) =>
      formatChallenge('Bearer', { realm: `${facadeUrl(req, options.url)}/token`, service: options.service, scope, error });
    const credentials = parseAuthorization(req.headers.authorization);
    const context = { clientIp: req.ip ?? 'unknown', repository: path.route === 'base' ? undefined : path.name };
    const caller: Caller = await options.gate.caller(credentials, context, challenge);
    if (path.route === 'base') {
      if (caller.kind === 'anonymous') throw new RegistryError('UNAUTHORIZED', 'authentication required', undefined, { 'www-authenticate': challenge() });
      res.status(200).json({});
      return;
    }
    options.gate.requirePull(caller, path.name, challenge);
    const resolved = options.router.resolve(path.name);
    const method = req.method as 'GET' | 'HEAD';
    const relayed = (answer: UpstreamResponse, kind: string) =>
      relay(res, answer, { kind, upstream: resolved.upstream.name, metrics: options.metrics, zeroCopy: options.zeroCopy });
    switch (path.route) {
      case 'manifest': {
        const accept = req.headers.accept ? [req.headers.accept] : [];
        const answer = await resolved.upstream.fetch({ kind: 'manifest', method, repository: resolved.repository, reference: path.reference, accept });
        return relayed(answer, 'manifest');
      }
      case 'blob': {
        const range = typeof req.headers.range === 'string' ? req.headers.range : undefined;
        const answer = await resolved.upstream.fetch({ kind: 'blob', method, repository: resolved.repository, digest: path.digest, range });
        return relayed(answer, 'blob');
      }
      case 'tags':
        return tags(req, res, options, resolved, path.name);
      case 'referrers':
        return referrers(req, res, options, resolved, path.digest);
    }
  };
}

async function tags(req: Request, res: Response, options: V2Options, resolved: Resolved, name: string): Promise<void> {
  const n = queryValue(req, 'n');
  const last = queryValue(req, 'last');
  if (n !== undefined && !/^\d{1,6}$/.test(n)) throw new RegistryError('UNSUPPORTED', 'n must be a non-negative integer');
  const answer = await resolved.upstream.fetch({ kind: 'tags', repository: resolved.repository, n, last });
  const { body, next } = await readTags(answer, name, { n, last });
  if (next) res.setHeader('link', `<${facadeUrl(req, options.url)}/v2/${name}/tags/list?${next}>; rel="next"`);
  res.status(200).setHeader('content-type', 'application/json');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(req.method === 'HEAD' ? undefined : body);
}

async function referrers(req: Request, res: Response, options: V2Options, resolved: Resolved, digest: string): Promise<void> {
  const artifactType = queryValue(req, 'artifactType');
  try {
    const answer = await resolved.upstream.fetch({ kind: 'referrers', repository: resolved.repository, digest, artifactType });
    await relay(res, answer, { kind: 'referrers', upstream: resolved.upstream.name, metrics: options.metrics });
  } catch (err) {
    if (!(err instanceof RegistryError) || err.status !== 404) throw err;
    res.status(200).setHeader('content-type', 'application/vnd.oci.image.index.v1+json');
    res.end(EMPTY_INDEX);
  }
}

function queryValue(req: Request, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new RegistryError('UNSUPPORTED', `${name} must be given once`);
  return v;
}
