import cluster from 'node:cluster';
import { ConfigError } from '../config/errors';
import { createLogger } from '../log/logger';
import { createRegistry } from '../metrics/server';
import { isWorkerMessage, post, primaryPeer, Rpc } from './ipc';
import { startOutboundProxy } from './server';
import type { OutboundSettings } from './settings';
import { tokensFromPrimary } from './worker-tokens';

/**
 * One worker process of `imagegate outbound-proxy --workers N` (see
 * ./workers.ts): the whole data path (listener on the shared port, upstream
 * agents, buffer collector, its own metrics registry), tokens from the
 * primary. It drains on the primary's `drain` message or on its own
 * SIGTERM/SIGINT (a terminal's Ctrl-C reaches the whole process group), then
 * disconnects and exits 0. Resolves with the exit code.
 */
export async function runWorker(settings: OutboundSettings): Promise<number> {
  const id = cluster.worker?.id;
  const logger = createLogger({ level: settings.logLevel, format: settings.logFormat, defaultMeta: { component: 'outbound-proxy', worker: id } });
  const registry = createRegistry();
  const primary = primaryPeer();
  const rpc = new Rpc(primary, { metrics: async () => registry.getMetricsAsJSON() });
  let proxy;
  try {
    proxy = await startOutboundProxy(settings, { tokens: tokensFromPrimary(rpc), metricsRegistry: registry, logger });
  } catch (err) {
    const config = err instanceof ConfigError;
    post(primary, { ig: 'failed', setting: config ? err.setting : undefined, problem: config ? err.problem : (err as Error).message }, () => undefined);
    process.disconnect?.();
    return config ? 2 : 1;
  }
  post(primary, { ig: 'ready', address: proxy.address });
  logger.debug('worker listening', { pid: process.pid });

  const reason = await new Promise<string>((resolve) => {
    process.on('message', (m) => isWorkerMessage(m) && m.ig === 'drain' && resolve('drain'));
    process.once('disconnect', () => resolve('primary gone'));
    process.on('SIGTERM', () => resolve('SIGTERM'));
    process.on('SIGINT', () => resolve('SIGINT'));
  });
  logger.debug('worker draining', { reason, graceMs: settings.shutdownGraceMs });
  await proxy.close(settings.shutdownGraceMs);
  rpc.close();
  if (process.connected) process.disconnect();
  return 0;
}
