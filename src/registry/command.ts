import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import type { Command } from '../cli/command';
import { untilSignal } from '../cli/lifecycle';
import { formatListenAddress } from '../config/address';
import { commonFlags } from '../config/common-flags';
import { type Binding, type FlagTable, loadConfig } from '../config/load';
import { createLogger, logFormatSetting, logLevelSetting } from '../log/logger';
import { createRegistry, startMetricsServer } from '../metrics/server';
import { registrySchema } from './config';
import { defaultRegistryConfig, defaultStateDir, ensureDemoUser } from './default-config';
import { CONNECTIONS_CHECKING_INTERVAL_MS, applyListenerLimits, listenerMetrics } from './http/listener-limits';
import { listenerLimits, startRegistry } from './server';

/** The whole file of `imagegate registry --config` (docs/configuration.md checks its keys against it). */
export const schema = z.object({
  registry: registrySchema,
  log: z
    .object({ level: logLevelSetting(), format: logFormatSetting() })
    .prefault({}),
});

export const bindings: Binding[] = [
  { flag: 'listen', env: 'IMAGEGATE_REGISTRY_LISTEN', path: 'registry.listen', help: 'listen address' },
  { flag: 'url', env: 'IMAGEGATE_REGISTRY_URL', path: 'registry.url', help: 'public base URL, e.g. https://registry.example.com' },
  { flag: 'tls-cert', env: 'IMAGEGATE_REGISTRY_TLS_CERT', path: 'registry.tls.cert', help: 'PEM certificate (with --tls-key: serve HTTPS)' },
  { flag: 'tls-key', env: 'IMAGEGATE_REGISTRY_TLS_KEY', path: 'registry.tls.key', help: 'PEM private key' },
  commonFlags.metricsListen('registry.metricsListen', 'IMAGEGATE_REGISTRY_METRICS_LISTEN', { note: '"" = off' }),
  { flag: 'rate-limit-store', env: 'IMAGEGATE_REGISTRY_RATE_LIMIT_STORE', path: 'registry.rateLimit.store', help: 'where login budgets are counted: memory or redis://host:port (shared by replicas)' },
  commonFlags.logLevel('log.level'),
  commonFlags.logFormat('log.format'),
];

/** What `imagegate registry` reads (with no `--config`, the embedded default configuration lies under it). */
export const registryFlags: FlagTable<typeof schema> = { schema, bindings };

/**
 * `imagegate registry`: the Docker Registry v2 pull facade. With no config
 * file it runs the embedded default (Docker Hub under `hub/`, a demo user).
 */
export const registryCommand: Command = {
  name: 'registry',
  summary: 'serve a Docker Registry v2 pull facade over configured upstreams with pluggable authentication',
  flags: registryFlags,
  async run(argv) {
    const file = configFile(argv);
    const stateDir = defaultStateDir();
    const defaults = file ? {} : { registry: defaultRegistryConfig(stateDir) };
    const { config, helpRequested, help } = loadConfig({ command: 'registry', schema, bindings, argv, defaults });
    if (helpRequested) {
      process.stdout.write(help + '\n');
      return 0;
    }
    const logger = createLogger({ level: config.log.level, format: config.log.format, defaultMeta: { component: 'registry' } });
    if (!file) ensureDemoUser(stateDir, logger);
    const metricsRegistry = createRegistry();
    const baseDir = file ? dirname(resolve(file)) : process.cwd();
    const facade = await startRegistry(config.registry, { logger, metricsRegistry, baseDir });
    let ready = true;
    const metricsListen = config.registry.metricsListen;
    const metrics = metricsListen
      ? await startMetricsServer({
          listen: metricsListen,
          registry: metricsRegistry,
          probes: { '/healthz': () => true, '/readyz': () => ready },
          server: {
            options: { connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS },
            configure: (server) => applyListenerLimits(server, listenerLimits(config.registry), 'metrics', listenerMetrics(metricsRegistry)),
          },
        })
      : undefined;
    // Handlers first: whoever reads the line below may send SIGTERM at once.
    const stopping = untilSignal();
    logger.info('registry facade listening', {
      url: facade.url,
      upstreams: config.registry.upstreams.map((u) => `${u.prefix || '*'} → ${u.name}`),
      metrics: metrics ? formatListenAddress({ host: metrics.address.address, port: metrics.address.port }) : 'disabled',
    });
    const signal = await stopping;
    ready = false;
    logger.info('shutting down; finishing in-flight pulls', { signal, graceMs: config.registry.limits.shutdownGrace });
    await facade.close();
    await metrics?.close();
    logger.info('stopped');
    return 0;
  },
};

function configFile(argv: string[]): string | undefined {
  const i = argv.findIndex((a) => a === '--config' || a.startsWith('--config='));
  if (i >= 0) return argv[i].includes('=') ? argv[i].slice('--config='.length) : argv[i + 1];
  return process.env.IMAGEGATE_CONFIG || undefined;
}
