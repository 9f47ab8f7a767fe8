import { Counter, Histogram, type Registry } from 'prom-client';

/** Token outcomes, named as in aws-outbound-jwt-proxy's `token_result`. */
export type TokenResult = 'ok' | 'fetch_error' | 'resolver_error';

/** The proxy's Prometheus instruments, registered on the given registry. */
export interface OutboundMetrics {
  /** Requests answered, by status code and whether the proxy or the upstream answered. */
  requests: Counter<'status' | 'source'>;
  /** Seconds from sending the request upstream to its response headers, by outcome. */
  upstreamLatency: Histogram<'outcome'>;
  /** Token look-ups by result. */
  tokens: Counter<'result'>;
}

export function createOutboundMetrics(registry: Registry): OutboundMetrics {
  return {
    requests: new Counter({
      name: 'imagegate_outbound_requests_total',
      help: 'Requests answered by the outbound proxy, by status and source (proxy or upstream).',
      labelNames: ['status', 'source'],
      registers: [registry],
    }),
    upstreamLatency: new Histogram({
      name: 'imagegate_outbound_upstream_duration_seconds',
      help: 'Time from sending a request upstream to its response headers.',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    tokens: new Counter({
      name: 'imagegate_outbound_token_results_total',
      help: 'Token look-ups by result (ok, fetch_error, resolver_error).',
      labelNames: ['result'],
      registers: [registry],
    }),
  };
}
