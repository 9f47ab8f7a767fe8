import { Counter, Histogram, type Registry } from 'prom-client';
import { status } from '@grpc/grpc-js';

/** Per-RPC call metrics, recorded once per call by the gRPC adapter. */
export interface RpcMetrics {
  observe(rpc: string, code: status, seconds: number): void;
}

/**
 * Registers on `registry`:
 * - `imagegate_cri_calls_total{rpc,code}` every finished call,
 * - `imagegate_cri_errors_total{rpc,code}` calls that did not end OK,
 * - `imagegate_cri_call_duration_seconds{rpc}` latency histogram.
 */
export function createRpcMetrics(registry: Registry): RpcMetrics {
  const calls = new Counter({ name: 'imagegate_cri_calls_total', help: 'CRI calls served, by RPC and gRPC status', labelNames: ['rpc', 'code'], registers: [registry] });
  const errors = new Counter({ name: 'imagegate_cri_errors_total', help: 'CRI calls that ended with an error status', labelNames: ['rpc', 'code'], registers: [registry] });
  const latency = new Histogram({
    name: 'imagegate_cri_call_duration_seconds',
    help: 'CRI call latency',
    labelNames: ['rpc'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  return {
    observe(rpc, code, seconds) {
      const name = status[code] ?? String(code);
      calls.inc({ rpc, code: name });
      if (code !== status.OK) errors.inc({ rpc, code: name });
      latency.observe({ rpc }, seconds);
    },
  };
}

/** Records nothing. */
export const noRpcMetrics: RpcMetrics = { observe: () => undefined };
