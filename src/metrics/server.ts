import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { ListenAddress } from '../config/address';

/** A probe answered on the metrics listener: resolves true when healthy. */
export type Probe = () => Promise<boolean> | boolean;

export interface MetricsServerOptions {
  listen: ListenAddress;
  /** Path of the Prometheus endpoint. Default `/metrics`. */
  path?: string;
  /** What `/metrics` serves: a registry, or anything that renders like one (the outbound proxy's aggregate of its workers). */
  registry: Pick<Registry, 'metrics' | 'contentType'>;
  /** Extra probes such as `/healthz` and `/readyz`: 200 `ok` when true, 503 otherwise. */
  probes?: Record<string, Probe>;
  /** Options for the listener (timeouts' checking interval…), and a hook run on it before it listens (connection limits). */
  server?: { options?: http.ServerOptions; configure?: (server: http.Server) => void };
}

export interface RunningServer {
  /** The bound address (the real port when 0 was asked for). */
  address: AddressInfo;
  close(): Promise<void>;
}

/** A fresh registry with the process metrics (CPU, memory, event loop) registered. */
export function createRegistry(prefix = 'imagegate_'): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix });
  return registry;
}

/**
 * Serves `/metrics` (and the given probes) on its own listener, apart from the
 * traffic port, so that scraping needs no credentials and exposes nothing else.
 * Every other path answers 404.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<RunningServer> {
  const path = options.path ?? '/metrics';
  const server = http.createServer(options.server?.options ?? {}, (req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const probe = options.probes?.[url];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (url === path) {
      options.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    } else if (probe) {
      Promise.resolve()
        .then(probe)
        .then(
          (ok) => res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not ready\n'),
          () => res.writeHead(503, { 'content-type': 'text/plain' }).end('not ready\n'),
        );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  options.server?.configure?.(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listen.port, options.listen.host, () => resolve());
  });
  return {
    address: server.address() as AddressInfo,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
