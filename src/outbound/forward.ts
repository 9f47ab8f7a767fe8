import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import type { Logger } from '../log/logger';
import type { BodyBytes } from './buffer-collector';
import type { Secret } from '../log/secret';
import { OutboundError, toOutboundError } from './errors';
import { downstreamHeaders, upstreamHeaders, type InjectOptions } from './headers';
import type { OutboundMetrics } from './metrics';
import type { Route, Router } from './route';
import type { TokenSource } from './token-source';
import type { Upstream } from './upstream';

/** What the request handler and the upgrade handler share. */
export interface ForwardContext {
  router: Router;
  tokens: TokenSource;
  upstream: Upstream;
  metrics: OutboundMetrics;
  logger: Logger;
  inject: InjectOptions;
  upstreamTimeoutMs: number;
  /** Told how many body bytes were relayed (the buffer collector); none in tests that do not watch memory. */
  bodyBytes?: BodyBytes;
}

/**
 * Resolves the route and the token of a request. Either failure is an
 * OutboundError, and nothing has been sent upstream yet.
 */
export async function prepare(ctx: ForwardContext, req: IncomingMessage): Promise<{ route: Route; token: Secret }> {
  let route: Route;
  try {
    route = ctx.router.resolve(req);
  } catch (err) {
    ctx.metrics.tokens.inc({ result: 'resolver_error' });
    throw err;
  }
  try {
    const token = await ctx.tokens(route.audiences);
    ctx.metrics.tokens.inc({ result: 'ok' });
    return { route, token };
  } catch (err) {
    ctx.metrics.tokens.inc({ result: 'fetch_error' });
    throw new OutboundError('token', `audiences ${route.audiences.join(',')}: ${(err as Error).message ?? String(err)}`);
  }
}

/** Path and query of the request, also when a client sent the absolute form (`GET http://host/path`). */
export function requestPath(req: IncomingMessage): string {
  const url = req.url ?? '/';
  if (url.startsWith('/')) return url;
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return '/';
  }
}

/**
 * The HTTP request handler: forwards the request with the token through the
 * upstream client (undici), streaming the body both ways with backpressure,
 * never buffered whole: the request body is undici's to read, response chunks
 * go to the client as undici hands them over (views on the socket's reads, no
 * copy), and a full client socket pauses undici's parser until it drains.
 * The proxy answers itself only before the upstream's headers arrive; after
 * that an upstream failure cuts the client connection.
 */
export function createForwarder(ctx: ForwardContext): (req: IncomingMessage, res: ServerResponse) => void {
  const debug = ctx.logger.isDebugEnabled();
  return (req, res) => {
    const started = debug ? Date.now() : 0;
    res.once('finish', () => {
      const source = res.getHeader('x-outbound-proxy') ? 'proxy' : 'upstream';
      ctx.metrics.requests.inc({ status: String(res.statusCode), source });
      if (debug) {
        ctx.logger.debug('request', { method: req.method, path: requestPath(req).split('?')[0], status: res.statusCode, source, ms: Date.now() - started });
      }
    });
    prepare(ctx, req).then(
      ({ route, token }) => {
        if (res.destroyed) return;
        const body = hasBody(req) ? req : null;
        if (!body) req.resume();
        ctx.upstream.dispatch(route, req.method ?? 'GET', requestPath(req), upstreamHeaders(req, route, token, ctx.inject), body, new Relay(ctx, req, res, route));
      },
      (err) => fail(ctx, req, res, toOutboundError(err)),
    );
  };
}

/**
 * undici's handler for one forwarded request. The response-header timer
 * (UPSTREAM_TIMEOUT) starts once the request body has been sent, so a slowly
 * trickled upload is never cut by it.
 */
class Relay implements Dispatcher.DispatchHandler {
  #abort?: (err?: Error) => void;
  #timer?: NodeJS.Timeout;
  readonly #started = performance.now();

  constructor(
    private readonly ctx: ForwardContext,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly route: Route,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    this.res.once('close', () => {
      clearTimeout(this.#timer);
      if (!this.res.writableFinished) abort(new Error('client went away'));
    });
  }

  /** Called by undici (not in its types) once the request, body included, is written. */
  onRequestSent(): void {
    const { ctx, route } = this;
    this.#timer = setTimeout(
      () => this.#abort?.(new OutboundError('timeout', `no response headers from ${route.target.authority} within ${ctx.upstreamTimeoutMs} ms`)),
      ctx.upstreamTimeoutMs,
    );
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true;
    clearTimeout(this.#timer);
    this.#observe('ok');
    this.res.writeHead(statusCode, statusText, downstreamHeaders(rawHeaders));
    this.res.on('drain', resume);
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.ctx.bodyBytes?.relayed(chunk.length);
    return this.res.write(chunk);
  }

  /** Called by undici for each request body chunk written upstream (with the chunk, whatever its types say). */
  onBodySent(chunk: number | Buffer): void {
    this.ctx.bodyBytes?.relayed(typeof chunk === 'number' ? chunk : chunk.length);
  }

  onComplete(): void {
    this.res.end();
  }

  onError(err: Error): void {
    clearTimeout(this.#timer);
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    const mapped = toOutboundError(err);
    this.#observe(mapped.kind);
    fail(this.ctx, this.req, this.res, mapped, this.route);
  }

  #observe(outcome: string): void {
    this.ctx.metrics.upstreamLatency.observe({ outcome }, (performance.now() - this.#started) / 1000);
  }
}
/** Whether the request carries a body to stream (RFC 9112 §6.3: Transfer-Encoding or a non-zero Content-Length). */
function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
}

function fail(ctx: ForwardContext, req: IncomingMessage, res: ServerResponse, err: OutboundError, route?: Route): void {
  const level = err.kind === 'token' || err.kind === 'upstream' || err.kind === 'timeout' ? 'warn' : 'info';
  ctx.logger.log(level, 'request not forwarded', {
    status: err.status,
    reason: err.kind,
    detail: err.detail,
    method: req.method,
    upstream: route?.target.authority,
  });
  if (res.headersSent || res.destroyed) return;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.setHeader('x-outbound-proxy', err.kind);
  res.writeHead(err.status).end(err.body + '\n');
}
