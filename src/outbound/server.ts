import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import { ConfigError } from '../config/errors';
import type { Logger } from '../log/logger';
import { BufferCollector } from './buffer-collector';
import { createForwarder, type ForwardContext } from './forward';
import { createOutboundMetrics } from './metrics';
import { Router } from './route';
import type { OutboundSettings } from './settings';
import type { TokenSource } from './token-source';
import { createUpgrader } from './upgrade';
import { UpstreamAgents } from './upstream';

export interface OutboundProxyDeps {
  tokens: TokenSource;
  /** Where the proxy's prom-client metrics are registered. */
  metricsRegistry: Registry;
  logger: Logger;
}

/** A listening proxy. */
export interface OutboundProxy {
  address: AddressInfo;
  router: Router;
  /**
   * Stops accepting connections, lets in-flight requests finish for up to
   * `graceMs`, then cuts what is left (including joined WebSocket sockets).
   */
  close(graceMs: number): Promise<void>;
}

/** Starts the proxy listener (HTTPS when TLS files are set) on `settings.listen`. */
export async function startOutboundProxy(settings: OutboundSettings, deps: OutboundProxyDeps): Promise<OutboundProxy> {
  const router = new Router(settings);
  const agents = new UpstreamAgents(settings.upstreamCaFile);
  const ctx: ForwardContext = {
    router,
    tokens: deps.tokens,
    agents,
    metrics: createOutboundMetrics(deps.metricsRegistry),
    logger: deps.logger,
    inject: { authHeader: settings.authHeader, authScheme: settings.authScheme },
    upstreamTimeoutMs: settings.upstreamTimeoutMs,
    collector: new BufferCollector(),
  };
  const server = settings.tls ? https.createServer(tlsOptions(settings.tls)) : http.createServer();
  server.keepAliveTimeout = 65_000;
  server.on('request', createForwarder(ctx));
  const joined = new Set<Duplex>();
  server.on('upgrade', createUpgrader(ctx, joined));
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new ConfigError('LISTEN_ADDR', `cannot listen: ${err.code ?? err.message}`)));
    server.listen(settings.listen.port, settings.listen.host, () => resolve());
  });

  return {
    address: server.address() as AddressInfo,
    router,
    close: async (graceMs) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const idle = setInterval(() => server.closeIdleConnections(), 50);
      const deadline = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), graceMs).unref());
      const outcome = await Promise.race([closed, deadline]);
      clearInterval(idle);
      if (outcome === 'late') {
        deps.logger.warn('shutdown grace period over; closing remaining connections', { graceMs });
        server.closeAllConnections();
      }
      for (const socket of joined) socket.destroy();
      await closed;
      agents.close();
    },
  };
}

function tlsOptions(tls: { certFile: string; keyFile: string }): https.ServerOptions {
  const read = (file: string, setting: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(setting, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  return { cert: read(tls.certFile, 'TLS_CERT'), key: read(tls.keyFile, 'TLS_KEY') };
}
