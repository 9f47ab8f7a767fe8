import type http from 'node:http';
import type { Logger } from '../../log/logger';
import { RegistryError, isErrorCode } from '../errors';
import { requestId } from '../http/request-id';
import type { RegistryMetrics } from '../metrics';
import { type Agents, createAgents, discard, readSmall, send } from './http-client';
import { RedirectPolicy } from './redirect-policy';
import type { Upstream, UpstreamRequest, UpstreamResponse } from './upstream';
import type { UpstreamAuth } from './upstream-auth';

/** What to do when an upstream redirects a blob to storage. */
export type RedirectMode = 'pass' | 'follow';

export interface HttpUpstreamOptions {
  name: string;
  /** Base URL of the registry, e.g. `https://registry-1.docker.io`. */
  url: URL;
  timeoutMs: number;
  redirects: RedirectMode;
  auth: UpstreamAuth;
  agents?: Agents;
  /** Where followed redirects may go. Default: the upstream's origin and public addresses (`RedirectPolicy` without a list). */
  redirectPolicy?: RedirectPolicy;
  metrics?: RegistryMetrics;
  /** Where upstream failures are reported (warn, with upstream, reason and request id). */
  logger?: Logger;
}

/** Response headers relayed to clients; everything else (cookies, server banners) stays behind. */
const RELAYED = ['content-type', 'content-length', 'docker-content-digest', 'etag', 'content-range', 'accept-ranges', 'last-modified', 'link', 'oci-filters-applied'];
const MAX_HOPS = 5;
const REDIRECTS = [301, 302, 303, 307, 308];

/** An upstream registry reached over HTTP(S): the real thing behind the decorators. */
export class HttpUpstream implements Upstream {
  readonly name: string;
  readonly #agents: Agents;
  readonly #policy: RedirectPolicy;

  constructor(private readonly options: HttpUpstreamOptions) {
    this.name = options.name;
    this.#agents = options.agents ?? createAgents();
    this.#policy = options.redirectPolicy ?? new RedirectPolicy({ upstream: options.name, origin: options.url, allowedHosts: [], agents: this.#agents });
  }

  /**
   * One request upstream. A failure of the upstream itself (unreachable,
   * timed out, TLS, 5xx, its token service) is logged at warn with the
   * upstream, reason and request id and counted in
   * `imagegate_registry_upstream_errors_total{upstream,reason}` before it
   * reaches the client as UNAVAILABLE.
   */
  async fetch(request: UpstreamRequest): Promise<UpstreamResponse> {
    try {
      return await this.#fetch(request);
    } catch (err) {
      const reason = err instanceof RegistryError && err.code === 'UNAVAILABLE' ? (typeof err.cause === 'string' ? err.cause : (err.detail as { reason?: unknown } | undefined)?.reason) : undefined;
      if (typeof reason === 'string') {
        this.options.metrics?.upstreamErrors.inc({ upstream: this.name, reason });
        this.options.logger?.warn('upstream failed', { upstream: this.name, reason, requestId: requestId(), kind: request.kind, repository: request.repository, error: (err as Error).message });
      }
      throw err;
    }
  }

  async #fetch(request: UpstreamRequest): Promise<UpstreamResponse> {
    const url = this.#url(request);
    const method = request.kind === 'manifest' || request.kind === 'blob' ? request.method : 'GET';
    const headers: Record<string, string> = {};
    if (request.kind === 'manifest' && request.accept.length > 0) headers.accept = request.accept.join(', ');
    if (request.kind === 'blob' && request.range) headers.range = request.range;
    if (request.kind === 'tags' || request.kind === 'referrers') headers.accept = 'application/json';
    const scope = `repository:${request.repository}:pull`;
    const started = process.hrtime.bigint();
    let { res, authorization } = await this.#send(url, method, headers, scope);
    if (res.statusCode === 401 && this.options.auth.challenged(header(res, 'www-authenticate'), scope, authorization)) {
      discard(res);
      ({ res } = await this.#send(url, method, headers, scope));
    }
    res = await this.#redirects(res, url, method, headers, scope);
    const status = res.statusCode ?? 502;
    this.options.metrics?.upstreamLatency.observe(
      { upstream: this.name, kind: request.kind, status: String(status) },
      Number(process.hrtime.bigint() - started) / 1e9,
    );
    if (status >= 300 && status < 400 && res.headers.location) {
      discard(res);
      return { status: 307, headers: {}, location: new URL(res.headers.location, url).href };
    }
    if (status !== 200 && status !== 206 && status !== 304) throw await this.#error(res, request);
    return { status, headers: relayed(res), body: method === 'HEAD' ? (discard(res), undefined) : res, stallMs: this.options.timeoutMs };
  }

  async close(): Promise<void> {
    this.#agents.http.destroy();
    this.#agents.https.destroy();
    this.#policy.close();
  }

  async #send(url: URL, method: string, headers: Record<string, string>, scope: string): Promise<{ res: http.IncomingMessage; authorization?: string }> {
    const authorization = await this.options.auth.header(scope);
    const all = authorization ? { ...headers, authorization } : headers;
    return { res: await send(url, { method, headers: all, timeoutMs: this.options.timeoutMs, agents: this.#agents, reveal: true }, this.name), authorization };
  }

  /**
   * Follows storage redirects when configured to, at most MAX_HOPS of them,
   * each to a destination the RedirectPolicy allows: relative Locations
   * resolved, Authorization sent only to the upstream's own origin. More
   * hops than that is UNAVAILABLE, never a redirect handed to the client.
   */
  async #redirects(res: http.IncomingMessage, url: URL, method: string, headers: Record<string, string>, scope: string): Promise<http.IncomingMessage> {
    if (this.options.redirects !== 'follow') return res;
    let current = res;
    let at = url;
    for (let hop = 0; ; hop++) {
      const status = current.statusCode ?? 0;
      const location = current.headers.location;
      if (!REDIRECTS.includes(status) || !location) return current;
      discard(current);
      if (hop === MAX_HOPS) throw new RegistryError('UNAVAILABLE', `upstream ${this.name} redirected more than ${MAX_HOPS} times`, { upstream: this.name, reason: 'redirect_loop' });
      let next: URL;
      try {
        next = new URL(location, at);
      } catch {
        throw new RegistryError('UNAVAILABLE', `upstream ${this.name} sent an unusable redirect`, { upstream: this.name, reason: 'bad_redirect' });
      }
      const target = this.#policy.target(next, at);
      const nextMethod = status === 303 ? 'GET' : method;
      current =
        target.kind === 'origin'
          ? (await this.#send(next, nextMethod, headers, scope)).res
          : await send(next, { method: nextMethod, headers, timeoutMs: this.options.timeoutMs, agents: target.agents }, this.name);
      at = next;
    }
  }

  #url(request: UpstreamRequest): URL {
    const base = this.options.url.href.replace(/\/+$/, '');
    const repo = request.repository;
    switch (request.kind) {
      case 'manifest':
        return new URL(`${base}/v2/${repo}/manifests/${request.reference}`);
      case 'blob':
        return new URL(`${base}/v2/${repo}/blobs/${request.digest}`);
      case 'tags': {
        const url = new URL(`${base}/v2/${repo}/tags/list`);
        if (request.n !== undefined) url.searchParams.set('n', request.n);
        if (request.last !== undefined) url.searchParams.set('last', request.last);
        return url;
      }
      case 'referrers': {
        const url = new URL(`${base}/v2/${repo}/referrers/${request.digest}`);
        if (request.artifactType !== undefined) url.searchParams.set('artifactType', request.artifactType);
        return url;
      }
    }
  }

  /** Turns an upstream failure into the client's error: the upstream's own OCI code when it sent one. */
  async #error(res: http.IncomingMessage, request: UpstreamRequest): Promise<RegistryError> {
    const status = res.statusCode ?? 502;
    let code: unknown;
    let message: string | undefined;
    if (request.kind === 'manifest' && request.method === 'HEAD') discard(res);
    else {
      const body = await readSmall(res, 16 * 1024).catch(() => Buffer.alloc(0));
      try {
        const first = (JSON.parse(body.toString('utf8')) as { errors?: { code?: unknown; message?: unknown }[] }).errors?.[0];
        code = first?.code;
        message = typeof first?.message === 'string' ? first.message.slice(0, 200) : undefined;
      } catch {
        // not an OCI error document
      }
    }
    if (status === 401 || status === 403) {
      return new RegistryError('DENIED', `upstream ${this.name} denied access`, { upstream: this.name, status });
    }
    if (status === 429) {
      const retry = header(res, 'retry-after');
      return new RegistryError('TOOMANYREQUESTS', `upstream ${this.name} is rate limiting`, undefined, retry ? { 'retry-after': retry } : { 'retry-after': '60' });
    }
    if (status === 416) return new RegistryError('RANGE_INVALID', 'requested range not satisfiable');
    if (status >= 500 && status <= 599) return new RegistryError('UNAVAILABLE', `upstream ${this.name} failed: HTTP ${status}`, { upstream: this.name, status, reason: `http_${status}` });
    if (isErrorCode(code) && code !== 'UNAUTHORIZED' && code !== 'DENIED') return new RegistryError(code, message ?? code.toLowerCase());
    if (status === 404) {
      if (request.kind === 'blob') return new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry');
      if (request.kind === 'manifest') return new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown');
      return new RegistryError('NAME_UNKNOWN', 'repository name not known to registry');
    }
    return new RegistryError('UNAVAILABLE', `upstream ${this.name} answered ${status}`, { upstream: this.name, status });
  }
}

function header(res: http.IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function relayed(res: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of RELAYED) {
    const v = header(res, name);
    if (v !== undefined) out[name] = v;
  }
  return out;
}
