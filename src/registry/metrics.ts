import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { decisionCounter } from './auth/chain-metrics';

/** The facade's Prometheus metrics, registered once on a registry. */
export class RegistryMetrics {
  /** Client requests by route (`manifest`, `blob`, `tags`, `token`…), method and status. */
  readonly requests: Counter<'route' | 'method' | 'status'>;
  /** Upstream failures by upstream and reason (`ENOTFOUND`, `ECONNREFUSED`, `timeout`, `tls`, `http_503`…). */
  readonly upstreamErrors: Counter<'upstream' | 'reason'>;
  /** Time until an upstream's response headers arrive. */
  readonly upstreamLatency: Histogram<'upstream' | 'kind' | 'status'>;
  /** Body bytes relayed from upstreams to clients; `relay` is `splice` (zero-copy) or `stream`. */
  readonly bytes: Counter<'upstream' | 'kind' | 'relay'>;
  /** Client authentication decisions (the chain's counter, shared): the facade adds `limiter` results `ratelimited` and `busy`. */
  readonly authDecisions: Counter<'authenticator' | 'result'>;
  /** Manifest cache lookups by result (`hit`, `miss`, `shared`). */
  readonly cache: Counter<'result'>;
  /** Logins being checked right now (bounded by `rateLimit.maxInFlight`). */
  readonly loginsInFlight: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({ name: 'imagegate_registry_requests_total', help: 'Registry facade requests', labelNames: ['route', 'method', 'status'], registers });
    this.upstreamErrors = new Counter({ name: 'imagegate_registry_upstream_errors_total', help: 'Upstream requests that failed, by upstream and reason', labelNames: ['upstream', 'reason'], registers });
    this.upstreamLatency = new Histogram({
      name: 'imagegate_registry_upstream_seconds',
      help: 'Upstream response time until headers',
      labelNames: ['upstream', 'kind', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.bytes = new Counter({ name: 'imagegate_registry_bytes_streamed_total', help: 'Bytes relayed from upstreams', labelNames: ['upstream', 'kind', 'relay'], registers });
    this.authDecisions = decisionCounter({ metricsRegistry: registry }) as Counter<'authenticator' | 'result'>;
    this.loginsInFlight = new Gauge({ name: 'imagegate_registry_logins_in_flight', help: 'Logins being checked by the authenticator chain', registers });
    this.cache = new Counter({ name: 'imagegate_registry_manifest_cache_total', help: 'Manifest-by-digest cache lookups', labelNames: ['result'], registers });
  }
}
