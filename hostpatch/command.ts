import { z } from 'zod';
import { subcommandsHelp, type Command, type Subcommand } from '../src/cli/command';
import { untilSignal } from '../src/cli/lifecycle';
import { nodeListenAddress } from '../src/config/address';
import { duration } from '../src/config/duration';
import { commonFlags } from '../src/config/common-flags';
import { loadConfig, type Binding, type FlagTable } from '../src/config/load';
import { ConfigError } from '../src/config/errors';
import { createLogger, logLevelSetting } from '../src/log/logger';
import { createRegistry, startMetricsServer } from '../src/metrics/server';
import { RefusalError, RolledBackError } from './errors';
import { KubeApi, markNode } from './kube-api';
import { nodeBindings, nodeSettings } from './node-settings';
import type { PatcherOptions } from './options';
import { Patcher } from './patcher';
import { prepullSuccessor } from './prepull';
import { imageFsInfoAnswers } from './probe';
import { readStatus } from './status';
import { watch } from './watch';

const schema = z.object({
  ...nodeSettings,
  /** Host path of imagegate's socket. */
  socket: z.string().startsWith('/', 'must be an absolute host path').default('/run/imagegate/imagegate.sock'),
  kubeletVersion: z.string().optional(),
  mode: z.enum(['auto', 'config', 'flag']).default('auto'),
  /** How long apply waits for imagegate to answer ImageFsInfo. */
  wait: duration('5m'),
  watchdog: z.object({
    /** How often the host watchdog checks the heartbeat. */
    interval: duration('10s'),
    /** How long without a heartbeat before it reverts. */
    timeout: duration('30s'),
  }).prefault({}),
  /** Keep running after apply: renew the heartbeat, re-apply after a watchdog revert or reboot. */
  watch: z.boolean().default(false),
  /** With --watch: revert the node on SIGTERM before exiting. Default off: leave the patch for a successor to adopt; the host watchdog reverts it if none renews the heartbeat. */
  revertOnExit: z.boolean().default(false),
  /** status: exit 1 unless the patch is applied (the patcher's readiness probe). */
  requireApplied: z.boolean().default(false),
  nodeName: z.string().optional(),
  /** prepull: the pod's own DaemonSet (in the service account's namespace), whose template images are pulled before the pod stops. */
  daemonset: z.string().min(1).default('imagegate'),
  /** prepull: time for all the pulls together; within the pod's terminationGracePeriodSeconds. */
  prepullTimeout: duration().default(50_000),
  /** With --watch: loopback (or the node's IP, for Prometheus) host:port of /healthz, /readyz (the patch is applied) and /metrics, for the DaemonSet's probes. */
  metricsListen: nodeListenAddress('127.0.0.1:9465'),
  logLevel: logLevelSetting(),
}).refine((c) => c.watchdog.timeout >= c.watchdog.interval, { path: ['watchdog', 'timeout'], message: 'must be at least watchdog.interval' })
  .refine((c) => c.watchdog.interval >= 2000, { path: ['watchdog', 'interval'], message: 'must be at least 2s' });

export const bindings: Binding[] = [
  ...nodeBindings,
  { flag: 'socket', env: 'IMAGEGATE_SOCKET', path: 'socket', help: "host path of imagegate's socket" },
  { flag: 'kubelet-version', env: 'IMAGEGATE_KUBELET_VERSION', path: 'kubeletVersion', help: 'kubelet version, e.g. 1.30 (default: read from the node object)' },
  { flag: 'mode', env: 'IMAGEGATE_HOSTPATCH_MODE', path: 'mode', help: 'auto | config (imageServiceEndpoint, kubelet ≥ 1.27) | flag (--image-service-endpoint)' },
  { flag: 'wait', env: 'IMAGEGATE_HOSTPATCH_WAIT', path: 'wait', help: 'how long apply waits for imagegate to answer ImageFsInfo' },
  { flag: 'watchdog-interval', env: 'IMAGEGATE_WATCHDOG_INTERVAL', path: 'watchdog.interval', help: 'host watchdog check interval' },
  { flag: 'watchdog-timeout', env: 'IMAGEGATE_WATCHDOG_TIMEOUT', path: 'watchdog.timeout', help: 'revert after imagegate is silent this long' },
  { flag: 'watch', env: 'IMAGEGATE_HOSTPATCH_WATCH', path: 'watch', type: 'boolean', help: 'apply, then keep the heartbeat and re-apply after a revert (DaemonSet mode)' },
  { flag: 'revert-on-exit', env: 'IMAGEGATE_HOSTPATCH_REVERT_ON_EXIT', path: 'revertOnExit', type: 'boolean', help: 'with --watch: revert the node on SIGTERM before exiting (off: leave the patch for a successor; the watchdog reverts it within timeout + interval if none comes)' },
  { flag: 'require-applied', path: 'requireApplied', type: 'boolean', help: 'status: exit 1 unless the patch is applied (readiness probe)' },
  { flag: 'node-name', env: 'NODE_NAME', path: 'nodeName', help: 'node name, for the version lookup and the node label' },
  { flag: 'daemonset', env: 'IMAGEGATE_DAEMONSET', path: 'daemonset', help: "prepull: this pod's DaemonSet, in the service account's namespace" },
  { flag: 'prepull-timeout', env: 'IMAGEGATE_PREPULL_TIMEOUT', path: 'prepullTimeout', help: 'prepull: time for all the pulls together' },
  commonFlags.metricsListen('metricsListen', 'IMAGEGATE_HOSTPATCH_METRICS_LISTEN', { note: 'loopback or the node IP, with --watch' }),
  commonFlags.logLevel('logLevel'),
];

/** What `imagegate hostpatch` reads. */
export const hostpatchFlags: FlagTable<typeof schema> = { schema, bindings };

const actions: Subcommand[] = [
  { name: 'apply', summary: "point kubelet at imagegate's socket (with --watch: keep it so, as the DaemonSet does)" },
  { name: 'revert', summary: "put kubelet's own image service back" },
  { name: 'status', summary: 'print what is applied, as JSON (with --require-applied: exit 1 unless applied)' },
  { name: 'probe', summary: 'exit 0 when imagegate answers ImageFsInfo on its socket (liveness probe)' },
  { name: 'prepull', summary: "pull this pod's DaemonSet's images through imagegate before the pod stops (the patcher's preStop)" },
];

const EXIT = { ok: 0, refused: 3, rolledBack: 4 };

/**
 * `imagegate hostpatch apply | revert | status | probe | prepull`: the node
 * patcher (see README, section install). `probe` asks imagegate for
 * ImageFsInfo; `prepull`, the patcher's preStop hook, pulls the images of the
 * pod's DaemonSet through imagegate before the pod stops. Exit codes: 0 done, 1 error (or probe /
 * --require-applied failed), 2 bad setting, 3 refused (nothing changed),
 * 4 rolled back.
 */
export const hostpatchCommand: Command = {
  name: 'hostpatch',
  summary: "apply | revert | status | probe | prepull: point this node's kubelet at imagegate, safely",
  flags: hostpatchFlags,
  subcommands: actions,
  async run(argv) {
    const [action, ...rest] = argv;
    const listing = action === undefined || action === '--help' || action === '-h';
    const loaded = loadConfig({
      command: `hostpatch ${listing ? `<${actions.map((a) => a.name).join('|')}>` : action}`, schema, bindings, argv: rest,
      helpFooter: listing ? subcommandsHelp('hostpatch', actions) : undefined,
    });
    if (loaded.helpRequested || listing) {
      process.stdout.write(loaded.help + '\n');
      return action === undefined ? 2 : 0;
    }
    const c = loaded.config;
    const log = createLogger({ level: c.logLevel, defaultMeta: { component: 'hostpatch' } });
    const opts: PatcherOptions = {
      hostRoot: c.hostRoot, socket: c.socket, kubeletVersion: c.kubeletVersion, mode: c.mode, waitMs: c.wait,
      healthzUrl: c.healthzUrl, healthzTimeoutMs: c.healthzTimeout,
      watchdog: { intervalMs: c.watchdog.interval, timeoutMs: c.watchdog.timeout }, nodeName: c.nodeName, log,
    };
    const patcher = new Patcher(opts);
    try {
      switch (action) {
        case 'apply': {
          if (c.watch) {
            // Probes over HTTP on loopback (the pod shares the node's network), so a probe costs a request, not a Node process.
            const probes = await startMetricsServer({
              listen: c.metricsListen,
              registry: createRegistry(),
              probes: { '/healthz': () => true, '/readyz': () => patcher.patchPresent() },
            });
            try {
              await watch(patcher, opts, Math.min(5000, c.watchdog.interval / 2), untilSignal(), c.revertOnExit ? 'revert' : 'handover');
            } finally {
              await probes.close();
            }
            return EXIT.ok;
          }
          const result = await patcher.apply();
          await markNode(log, c.nodeName, 'applied', { result, at: new Date().toISOString() });
          process.stdout.write(`${result}\n`);
          return EXIT.ok;
        }
        case 'revert': {
          const result = await patcher.revert();
          await markNode(log, c.nodeName, 'reverted', { result, at: new Date().toISOString() });
          process.stdout.write(`${result}\n`);
          return EXIT.ok;
        }
        case 'status': {
          const status = await readStatus(patcher.host, () => patcher.connect());
          process.stdout.write(JSON.stringify(status, null, 2) + '\n');
          return c.requireApplied && !status.applied ? 1 : EXIT.ok;
        }
        case 'probe': {
          const socket = patcher.host.path(c.socket);
          const ok = await imageFsInfoAnswers(socket, c.socket);
          process.stdout.write(ok ? `imagegate answers ImageFsInfo on ${socket}\n` : '');
          if (!ok) process.stderr.write(`imagegate hostpatch probe: no ImageFsInfo answer on ${socket}\n`);
          return ok ? EXIT.ok : 1;
        }
        case 'prepull': {
          const api = KubeApi.inCluster();
          if (!api?.namespace) {
            log.info('not in a Kubernetes cluster (no service account); nothing to pre-pull');
            return EXIT.ok;
          }
          const results = await prepullSuccessor({ api, namespace: api.namespace, daemonSet: c.daemonset, socket: patcher.host.path(c.socket), timeoutMs: c.prepullTimeout, log });
          for (const r of results ?? []) process.stdout.write(`${r.outcome} ${r.image}\n`);
          return EXIT.ok;
        }
        default:
          throw new ConfigError('hostpatch', `unknown action "${action}" (use apply, revert, status, probe or prepull)`);
      }
    } catch (err) {
      if (err instanceof RefusalError) {
        log.error('refused', { action, reason: err.message });
        process.stderr.write(`imagegate hostpatch ${action}: refused: ${err.message}\n`);
        await markNode(log, c.nodeName, 'refused', { action, error: err.message, at: new Date().toISOString() });
        return EXIT.refused;
      }
      if (err instanceof RolledBackError) {
        process.stderr.write(`imagegate hostpatch ${action}: ${err.message}\n`);
        await markNode(log, c.nodeName, 'rolled-back', { error: err.message, at: new Date().toISOString() });
        return EXIT.rolledBack;
      }
      throw err;
    }
  },
};
