import express, { type Express, type RequestHandler } from 'express';
import type { Logger } from '../../log/logger';
import type { AccessGate } from '../access/gate';
import type { RegistryMetrics } from '../metrics';
import type { UpstreamRouter } from '../upstream/router';
import { errorBoundary, notFound } from './error-boundary';
import { requestIds } from './request-id';
import { tokenHandler } from './token-handler';
import { v2Handler } from './v2-handler';

export interface AppOptions {
  gate: AccessGate;
  router: UpstreamRouter;
  logger: Logger;
  /** Token service name (the `aud` of facade tokens). */
  service: string;
  /** Public base URL of the facade; derived from each request when unset. */
  url?: string;
  /** Express `trust proxy` setting: which proxies' X-Forwarded-* headers to believe. Default false. */
  trustProxy?: boolean | string | number;
  /** Largest `POST /token` body. */
  maxBodyBytes: number;
  metrics?: RegistryMetrics;
  /** Relay large blobs with the native zero-copy relay where it applies. */
  zeroCopy?: boolean;
  /** True while the facade should receive traffic (false once shutting down). */
  ready: () => boolean;
  /** Serve these public keys as a JWK Set at `GET /token/keys` (`token.publishKeys`). */
  publishKeys?: { publicKeys(): unknown };
}

/** The facade's Express application: `/v2/…`, `/token`, `/healthz`, `/readyz`, one error boundary. */
export function createApp(options: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', options.trustProxy ?? false);
  app.use(requestIds());
  app.use(common(options.metrics));
  app.use(closeWhenDraining(options.ready));
  app.get('/healthz', (_req, res) => void res.type('text/plain').send('ok\n'));
  app.get('/readyz', (_req, res) => void (options.ready() ? res.type('text/plain').send('ok\n') : res.status(503).type('text/plain').send('not ready\n')));
  const keys = options.publishKeys;
  if (keys) app.get('/token/keys', (_req, res) => void res.setHeader('cache-control', 'max-age=60').type('application/jwk-set+json').send(JSON.stringify(keys.publicKeys())));
  const token = tokenHandler(options);
  app.get('/token', token);
  app.post('/token', express.urlencoded({ extended: false, limit: options.maxBodyBytes, parameterLimit: 20 }), token);
  app.all(/^\/v2(\/.*)?$/, v2Handler(options));
  app.use(notFound);
  app.use(errorBoundary(options.logger));
  return app;
}

/** Sets the API version header on every answer and counts requests by route and status. */
function common(metrics: RegistryMetrics | undefined): RequestHandler {
  return (req, res, next) => {
    res.setHeader('docker-distribution-api-version', 'registry/2.0');
    if (metrics) {
      res.once('finish', () => metrics.requests.inc({ route: String(res.locals.route ?? 'other'), method: req.method, status: String(res.statusCode) }));
    }
    next();
  };
}

/**
 * Once the facade stops being ready (shutting down), every answer carries
 * `Connection: close`: a load balancer's keep-alive connection then ends
 * after the request it carries, instead of bringing new requests to a
 * replica that is draining.
 */
function closeWhenDraining(ready: () => boolean): RequestHandler {
  return (_req, res, next) => {
    if (!ready()) res.setHeader('connection', 'close');
    next();
  };
}
