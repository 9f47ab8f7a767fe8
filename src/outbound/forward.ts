import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/logger';
import type { Secret } from '../log/secret';
import { relayBody } from './body';
import type { BufferCollector } from './buffer-collector';
import { logFields, OutboundError, toOutboundError } from './errors';
import { downstreamHeaders, upstreamHeaders, type InjectOptions } from './headers';
import type { OutboundMetrics } from './metrics';
import type { Route, Router } from './route';
import type { TokenSource } from './token-source';
import type { UpstreamAgents } from './upstream';

/** What the request handler and the upgrade handler share. */
export interface ForwardContext {
  router: Router;
  tokens: TokenSource;
  agents: UpstreamAgents;
  metrics: OutboundMetrics;
  logger: Logger;
  inject: InjectOptions;
  upstreamTimeoutMs: number;
  /** Counts the bytes of long bodies and collects their dead buffers. */
  collector: BufferCollector;
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
 * The HTTP request handler: forwards the request with the token, streaming the
 * body both ways with backpressure, never buffered whole (the request body
 * with `pipe`, the response body with ./body.ts; not `pipeline`, whose
 * per-request AbortController costs a DOMException each).
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
    prepare(ctx, req)
      .then(({ route, token }) => relay(ctx, req, res, route, token))
      .catch((err: unknown) => fail(ctx, req, res, toOutboundError(err)));
  };
}

function relay(ctx: ForwardContext, req: IncomingMessage, res: ServerResponse, route: Route, token: Secret): void {
  if (res.destroyed) return;
  const upReq = ctx.agents.request(route, req.method, requestPath(req), upstreamHeaders(req, route, token, ctx.inject));
  const started = performance.now();
  let headerTimer: NodeJS.Timeout | undefined;
  const observe = (outcome: string) => ctx.metrics.upstreamLatency.observe({ outcome }, (performance.now() - started) / 1000);

  upReq.once('finish', () => {
    headerTimer = setTimeout(
      () => upReq.destroy(new OutboundError('timeout', `no response headers from ${route.target.authority} within ${ctx.upstreamTimeoutMs} ms`)),
      ctx.upstreamTimeoutMs,
    );
  });
  upReq.once('response', (upRes) => {
    clearTimeout(headerTimer);
    observe('ok');
    res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, downstreamHeaders(upRes.rawHeaders));
    upRes.once('error', () => res.destroy());
    relayBody(upRes, res, ctx.collector.body());
  });
  upReq.on('error', (err) => {
    clearTimeout(headerTimer);
    req.unpipe(upReq);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const mapped = toOutboundError(err);
    observe(mapped.kind);
    fail(ctx, req, res, mapped, route);
  });
  res.once('close', () => {
    clearTimeout(headerTimer);
    if (!res.writableFinished) upReq.destroy();
  });
  if (hasBody(req)) {
    ctx.collector.watch(req);
    req.pipe(upReq);
  } else {
    req.resume();
    upReq.end();
  }
}

/** Whether the request carries a body to stream (RFC 9112 §6.3: Transfer-Encoding or a non-zero Content-Length). */
function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
}

function fail(ctx: ForwardContext, req: IncomingMessage, res: ServerResponse, err: OutboundError, route?: Route): void {
  const { level, stack } = logFields(err);
  ctx.logger.log(level, 'request not forwarded', {
    status: err.status,
    reason: err.kind,
    detail: err.detail,
    method: req.method,
    upstream: route?.target.authority,
    stack,
  });
  if (res.headersSent || res.destroyed) return;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.setHeader('x-outbound-proxy', err.kind);
  res.writeHead(err.status).end(err.body + '\n');
}
