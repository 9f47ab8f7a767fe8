import { Counter, type Registry } from 'prom-client';

/** What the chain counts: one decision of one authenticator. */
export interface DecisionCounter {
  inc(labels: { authenticator: string; result: 'allow' | 'deny' | 'abstain' | 'error' }): void;
}

const METRIC = 'imagegate_registry_auth_decisions_total';

/**
 * The decision counter: the one passed in, or a new one registered in the
 * given prom-client registry (reused when that registry already has it), or
 * an unregistered one when neither is given.
 */
export function decisionCounter(metrics?: { counter?: Counter<'authenticator' | 'result'>; metricsRegistry?: Registry }): DecisionCounter {
  if (metrics?.counter) return metrics.counter;
  const existing = metrics?.metricsRegistry?.getSingleMetric(METRIC);
  if (existing) return existing as Counter<'authenticator' | 'result'>;
  return new Counter({
    name: METRIC,
    help: 'Client authentication decisions by authenticator and result (error counts as deny).',
    labelNames: ['authenticator', 'result'],
    registers: metrics?.metricsRegistry ? [metrics.metricsRegistry] : [],
  });
}
