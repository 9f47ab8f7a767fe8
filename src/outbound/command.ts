import cluster from 'node:cluster';
import type { Command } from '../cli/command';
import { untilSignal } from '../cli/lifecycle';
import { formatListenAddress } from '../config/address';
import { ConfigError } from '../config/errors';
import { createLogger } from '../log/logger';
import { createRegistry, startMetricsServer, type RunningServer } from '../metrics/server';
import { Router } from './route';
import { startOutboundProxy } from './server';
import { loadSettings, outboundFlags } from './settings';
import { createStsTokenSource } from './tokens';
import { runWorker } from './worker';
import { startWorkers, type WorkerPool } from './workers';

/**
 * `imagegate outbound-proxy`: the drop-in for aws-outbound-jwt-proxy. Reads
 * the same flags and variables, serves until SIGTERM/SIGINT, then drains.
 * With WORKERS > 1 this process is the primary (tokens, metrics, probes) and
 * the data path runs in that many forked workers (./workers.ts); a forked
 * worker runs this same command and lands in ./worker.ts.
 */
export const outboundProxyCommand: Command = {
  name: 'outbound-proxy',
  summary: 'forward HTTP requests with an AWS STS web-identity JWT (drop-in for aws-outbound-jwt-proxy)',
  flags: outboundFlags,
  async run(argv) {
    const loaded = loadSettings(argv);
    if ('help' in loaded) {
      process.stdout.write(loaded.help + '\n');
      return 0;
    }
    const { settings } = loaded;
    if (cluster.isWorker) return runWorker(settings);
    const logger = createLogger({ level: settings.logLevel, format: settings.logFormat, defaultMeta: { component: 'outbound-proxy' } });
    const metricsRegistry = createRegistry();
    const tokens = createStsTokenSource(settings, { registry: metricsRegistry });
    const proxy: WorkerPool = await (
      settings.workers === 1
        ? startOutboundProxy(settings, { tokens: tokens.get, metricsRegistry, logger }).then((p) => ({ ...p, metrics: metricsRegistry }))
        : startWorkers(settings, { tokens, metricsRegistry, logger })
    ).catch(async (err: unknown) => {
      await tokens.close();
      throw err;
    });
    const fixed = new Router(settings).fixedAudiences();
    if (fixed) tokens.get(fixed).catch((err: Error) => logger.warn('first token not available yet', { audiences: fixed, error: err.message }));
    let metrics: RunningServer | undefined;
    try {
      metrics = settings.metrics
        ? await startMetricsServer({
            listen: settings.metrics.listen,
            path: settings.metrics.path,
            registry: proxy.metrics,
            probes: {
              '/healthz': () => true,
              '/readyz': async () => (fixed ? (await tokens.probe(fixed), true) : true),
            },
          })
        : undefined;
    } catch (err) {
      await proxy.close(0);
      await tokens.close();
      throw new ConfigError('METRICS_LISTEN_ADDR', `cannot listen: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    logger.info('outbound proxy listening', {
      listen: formatListenAddress({ host: proxy.address.address, port: proxy.address.port }),
      upstream: settings.upstreamHost?.authority ?? `header ${settings.hostHeader}`,
      metrics: metrics ? formatListenAddress({ host: metrics.address.address, port: metrics.address.port }) : 'disabled',
      workers: settings.workers,
    });

    const signal = await untilSignal();
    logger.info('shutting down; draining in-flight requests', { signal, graceMs: settings.shutdownGraceMs });
    await proxy.close(settings.shutdownGraceMs);
    await metrics?.close();
    await tokens.close();
    logger.info('stopped');
    return 0;
  },
};
