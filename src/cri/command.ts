import type { Command } from '../cli/command';
import { untilSignal } from '../cli/lifecycle';
import { formatListenAddress } from '../config/address';
import { createLogger } from '../log/logger';
import { createRegistry, startMetricsServer, type RunningServer } from '../metrics/server';
import { BackendReadiness } from './backend-readiness';
import { builtinBackendFactories } from './builtins';
import { choosePullCredentials, imageServiceFlags, loadImageServiceConfig } from './config';
import { createRpcMetrics } from './grpc/metrics';
import { ImageService } from './image-service';
import { CriServer } from './server';
import { startNodeAgent, type NodeAgent } from '../credential-provider/node-agent';

/**
 * `imagegate image-service`: serves the CRI ImageService for kubelet on a
 * Unix socket until SIGTERM/SIGINT, then shuts down gracefully and exits 0.
 */
export const imageServiceCommand: Command = {
  name: 'image-service',
  summary: "serve the CRI image service on a Unix socket for kubelet's imageServiceEndpoint",
  flags: imageServiceFlags,
  async run(argv) {
    const { config, helpRequested, help } = loadImageServiceConfig(argv);
    if (helpRequested) {
      process.stdout.write(help + '\n');
      return 0;
    }
    // Listen for SIGTERM/SIGINT before the socket exists, so that a signal during start-up is a clean stop, not a kill.
    const stopRequested = untilSignal();
    const logger = createLogger({ level: config.logLevel, format: config.logFormat, defaultMeta: { component: 'image-service' } });
    const metricsRegistry = createRegistry();
    // Credentials first: a bad credentials section must stop start-up before the backend opens connections.
    // The credential provider agent (when configured) owns the token services, so both answer from one cache.
    const agent: NodeAgent | undefined = config.credentialProvider
      ? await startNodeAgent({ credentials: config.credentials, settings: config.credentialProvider, logger, metrics: metricsRegistry })
      : undefined;
    const credentials = choosePullCredentials(config, logger, metricsRegistry, agent?.services);
    const service = new ImageService({ backend: builtinBackendFactories.create(config.backend, config, { logger }, 'image service settings'), credentials, pinnedImages: config.pinnedImages, maxConcurrentPulls: config.maxConcurrentPulls, logger });
    const readiness = new BackendReadiness(service.backend, logger);
    let metrics: RunningServer | undefined;
    let server: CriServer | undefined;
    try {
      metrics = await startMetricsServer({
        listen: config.metricsListen,
        registry: metricsRegistry,
        // Ready once the socket is bound and the backend answers: what kubelet needs of its image endpoint.
        probes: { '/healthz': () => true, '/readyz': async () => server !== undefined && (await readiness.ready()) },
      });
      server = await CriServer.start({
        socket: config.socket,
        socketMode: config.socketMode,
        service,
        logger,
        metrics: createRpcMetrics(metricsRegistry),
        gracePeriodMs: config.gracePeriod,
      });
    } catch (err) {
      await metrics?.close();
      await service.close();
      await agent?.close();
      throw err;
    }
    logger.info('metrics listening', { listen: formatListenAddress({ host: metrics.address.address, port: metrics.address.port }) });
    // A backend that cannot be reached is said at start-up (serving still starts: Docker or containerd may come up later).
    await readiness.ready();

    const signal = await stopRequested;
    logger.info('shutting down; letting in-flight calls finish', { signal, gracePeriodMs: config.gracePeriod });
    // The agent first: plugins that find it gone mint for themselves, instead of asking an agent whose credentials
    // the image service's shutdown is closing.
    await agent?.close();
    await server.stop();
    await metrics.close();
    return 0;
  },
};
