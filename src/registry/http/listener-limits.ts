import type http from 'node:http';
import type { Socket } from 'node:net';
import { Counter, Gauge, type Registry } from 'prom-client';
import { clientKey } from '../access/client-key';

/** Limits applied to one HTTP listener. Durations in ms; 0 turns a cap off. */
export interface ListenerLimits {
  /** Until the whole request (headers and body) has arrived. */
  requestTimeoutMs: number;
  /** Until the request headers have arrived (at most requestTimeoutMs). */
  headersTimeoutMs: number;
  /** How long an idle keep-alive connection is kept. */
  keepAliveTimeoutMs: number;
  /** Open connections from everyone. */
  maxConnections: number;
  /** Open connections from one client address (an IPv6 client by its /64). */
  maxConnectionsPerClient: number;
}

export interface ListenerMetrics {
  open: Gauge<'listener'>;
  refused: Counter<'listener' | 'reason'>;
}

/** The listener metrics on `registry`, created once per registry. */
export function listenerMetrics(registry: Registry): ListenerMetrics {
  const existing = registry.getSingleMetric('imagegate_registry_connections') as Gauge<'listener'> | undefined;
  if (existing) return { open: existing, refused: registry.getSingleMetric('imagegate_registry_connections_refused_total') as Counter<'listener' | 'reason'> };
  return {
    open: new Gauge({ name: 'imagegate_registry_connections', help: 'Open client connections by listener', labelNames: ['listener'], registers: [registry] }),
    refused: new Counter({
      name: 'imagegate_registry_connections_refused_total',
      help: 'Client connections closed by a listener limit: total, per_client, or timeout (request or headers not received in time)',
      labelNames: ['listener', 'reason'],
      registers: [registry],
    }),
  };
}

/**
 * Puts the limits on a server before it listens: Node's request, header and
 * keep-alive timeouts (checked every second, so a trickled body is cut within
 * a second of the limit with 408), a cap on all connections (`maxConnections`:
 * the kernel accepts, Node closes at once) and one per client address.
 * `listener` labels the metrics (`traffic`, `metrics`).
 */
export function applyListenerLimits(server: http.Server, limits: ListenerLimits, listener: string, metrics?: ListenerMetrics): void {
  server.requestTimeout = limits.requestTimeoutMs;
  server.headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs || limits.headersTimeoutMs);
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  if (limits.maxConnections > 0) server.maxConnections = limits.maxConnections;
  server.on('drop', () => metrics?.refused.inc({ listener, reason: 'total' }));
  const perClient = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const key = clientKey(socket.remoteAddress);
    const open = (perClient.get(key) ?? 0) + 1;
    if (limits.maxConnectionsPerClient > 0 && open > limits.maxConnectionsPerClient) {
      metrics?.refused.inc({ listener, reason: 'per_client' });
      socket.destroy();
      return;
    }
    perClient.set(key, open);
    metrics?.open.inc({ listener });
    socket.once('close', () => {
      const left = (perClient.get(key) ?? 1) - 1;
      if (left <= 0) perClient.delete(key);
      else perClient.set(key, left);
      metrics?.open.dec({ listener });
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT') metrics?.refused.inc({ listener, reason: 'timeout' });
    if (socket.writable && !socket.writableEnded) {
      const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT';
      const status = timedOut ? '408 Request Timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    }
    socket.destroy();
  });
}

/** The option Node reads at server creation: how often request and header timeouts are checked. */
export const CONNECTIONS_CHECKING_INTERVAL_MS = 1000;
