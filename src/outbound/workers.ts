import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';
import { ConfigError } from '../config/errors';
import type { Logger } from '../log/logger';
import { isWorkerMessage, post, Rpc, workerPeer } from './ipc';
import type { OutboundSettings } from './settings';
import type { StsTokens } from './tokens';
import { tokenHandler } from './worker-tokens';

/** A worker that dies on its own is replaced after this long (a crash loop costs at most one fork per second). */
const RESPAWN_DELAY_MS = 1000;
/** How long the primary waits for a worker's metrics. */
const METRICS_TIMEOUT_MS = 5000;
/** Added to SHUTDOWN_GRACE before a worker that has not exited is killed. */
const EXIT_MARGIN_MS = 5000;

type Metrics = MetricObjectWithValues<MetricValue<string>>[];

/** The running workers as the command sees them (the one-process proxy is shaped alike: its registry, its close). */
export interface WorkerPool {
  /** The shared listen address (the real port when 0 was asked for). */
  address: AddressInfo;
  /** Renders the primary's registry and every worker's, summed per series (prom-client's cluster aggregation). */
  metrics: Pick<Registry, 'metrics' | 'contentType'>;
  /** Tells every worker to drain for `graceMs`, waits for them to exit (killing any still there `graceMs` + 5 s later). */
  close(graceMs: number): Promise<void>;
}

/**
 * `--workers N` (N > 1): forks N workers of this same command with node:cluster
 * (they re-read the same flags and environment and run ./worker.ts). They
 * share the listen port; Node's default scheduling on Linux is round-robin
 * (the primary accepts and hands each connection to the next worker;
 * NODE_CLUSTER_SCHED_POLICY=none leaves it to the kernel). The primary keeps
 * the one STS token cache and answers its workers' token calls from it, serves
 * the aggregated metrics and the probes, and replaces a worker that dies
 * outside shutdown. Start-up fails (and every worker is stopped) when any
 * worker cannot listen; a ConfigError from a worker is rethrown here as the
 * same one line.
 */
export async function startWorkers(settings: OutboundSettings, deps: { tokens: StsTokens; metricsRegistry: Registry; logger: Logger }): Promise<WorkerPool> {
  const { logger } = deps;
  const live = new Map<Worker, Rpc>();
  const handlers = { token: tokenHandler(deps.tokens) };
  let stopping = false;

  const fork = (): Promise<AddressInfo> => {
    const worker = cluster.fork();
    live.set(worker, new Rpc(workerPeer(worker), handlers));
    return new Promise<AddressInfo>((resolve, reject) => {
      worker.on('message', (m: unknown) => {
        if (!isWorkerMessage(m)) return;
        if (m.ig === 'ready') resolve(m.address);
        if (m.ig === 'failed') reject(m.setting ? new ConfigError(m.setting, m.problem) : new Error(m.problem));
      });
      worker.once('exit', (code, signal) => {
        live.get(worker)?.close();
        live.delete(worker);
        reject(new Error(`worker ${worker.id} exited (${signal ?? code}) before listening`));
        if (stopping) return;
        logger.error('worker exited; starting another', { worker: worker.id, pid: worker.process.pid, code, signal });
        setTimeout(() => {
          if (stopping) return;
          fork().then(
            () => logger.info('replacement worker listening', { pids: [...live.keys()].map((w) => w.process.pid) }),
            (err: Error) => logger.error('replacement worker did not start', { error: err.message }),
          );
        }, RESPAWN_DELAY_MS).unref();
      });
    });
  };

  const stop = async (graceMs: number) => {
    stopping = true;
    const exits = [...live.keys()].map(
      (worker) =>
        new Promise<void>((resolve) => {
          if (worker.isDead()) return resolve();
          const timer = setTimeout(() => {
            logger.warn('worker did not exit in time; killing it', { worker: worker.id });
            worker.process.kill('SIGKILL');
          }, graceMs + EXIT_MARGIN_MS);
          worker.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          post(workerPeer(worker), { ig: 'drain' });
        }),
    );
    await Promise.all(exits);
  };

  let address: AddressInfo;
  try {
    const addresses = await Promise.all(Array.from({ length: settings.workers }, fork));
    address = addresses[0];
  } catch (err) {
    await stop(0);
    throw err;
  }
  logger.info('workers started', { workers: settings.workers, pids: [...live.keys()].map((w) => w.process.pid) });

  return {
    address,
    metrics: {
      contentType: deps.metricsRegistry.contentType,
      metrics: async () => {
        const own = await deps.metricsRegistry.getMetricsAsJSON();
        const theirs = await Promise.all([...live.values()].map((rpc) => rpc.call<Metrics>('metrics', null, METRICS_TIMEOUT_MS).catch(() => [] as Metrics)));
        return AggregatorRegistry.aggregate([own, ...theirs]).metrics();
      },
    },
    close: stop,
  };
}
