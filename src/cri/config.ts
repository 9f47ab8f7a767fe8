import { z } from 'zod';
import { nodeListenAddress } from '../config/address';
import { duration } from '../config/duration';
import { commonFlags } from '../config/common-flags';
import { loadConfig, type Binding, type FlagTable, type Loaded } from '../config/load';
import type { Registry } from 'prom-client';
import { buildPullCredentials } from '../credentials/build';
import { credentialsSchema } from '../credentials/config';
import type { CredentialServices } from '../credentials/services';
import { credentialProviderSchema } from '../credential-provider/settings';
import { kubeletOnly, type PullCredentials } from '../credentials/pull-credentials';
import { logFormatSetting, logLevelSetting, type Logger } from '../log/logger';
import { builtinBackendFactories } from './builtins';
import { parseDockerHost } from './docker/engine';
import { parseCriEndpoint } from './cri/endpoint';
import { parseReference } from './reference';


/**
 * The image service's settings. YAML keys are the field names; each default
 * is written beside its field.
 */
export const imageServiceSchema = z.object({
  /** Unix socket kubelet dials. Default /run/imagegate/imagegate.sock. */
  socket: z
    .string()
    .default('/run/imagegate/imagegate.sock')
    .refine((path) => path.startsWith('/') && path.trim() === path, { message: 'must be an absolute path, e.g. /run/imagegate/imagegate.sock' }),
  /** Permission bits of the socket, octal text (`0660`) or a number. Default 0660. */
  socketMode: z
    .union([z.number().int(), z.string()])
    .default('0660')
    .transform((value, ctx) => {
      const mode = typeof value === 'number' ? value : /^0?[0-7]{3}$/.test(value) ? parseInt(value, 8) : NaN;
      if (!(mode >= 0 && mode <= 0o777)) {
        ctx.addIssue({ code: 'custom', message: `not a file mode: "${value}" (use octal, e.g. 0660)` });
        return z.NEVER;
      }
      return mode;
    }),
  /** Where images live: `docker` (Docker Engine) or another registered backend. Default docker. */
  backend: z
    .string()
    .default('docker')
    .superRefine((name, ctx) => {
      if (!builtinBackendFactories.has(name)) ctx.addIssue({ code: 'custom', message: builtinBackendFactories.unknownMessage(name) });
    }),
  /** Docker Engine endpoint: unix:///path, tcp://host:port or /path. Default unix:///var/run/docker.sock. */
  dockerHost: z
    .string()
    .default('unix:///var/run/docker.sock')
    .refine((text) => parseDockerHost(text) !== undefined, { message: 'use unix:///path/to/docker.sock or tcp://host:port' }),
  /** The runtime's CRI socket the `cri` backend forwards to (containerd, CRI-O): unix:///path or tcp://host:port. Default unix:///run/containerd/containerd.sock. */
  criEndpoint: z
    .string()
    .default('unix:///run/containerd/containerd.sock')
    .superRefine((text, ctx) => {
      try {
        parseCriEndpoint(text);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    }),
  /** Images reported as pinned (never garbage-collected by kubelet), e.g. the sandbox image. Default none. */
  pinnedImages: z
    .array(z.string())
    .default([])
    .superRefine((refs, ctx) => {
      refs.forEach((ref, i) => {
        try {
          parseReference(ref);
        } catch (err) {
          ctx.addIssue({ code: 'custom', path: [i], message: (err as Error).message });
        }
      });
    }),
  /** PullImage calls served at once; more get RESOURCE_EXHAUSTED and kubelet retries. Keep it above kubelet's maxParallelImagePulls. Default 16. */
  maxConcurrentPulls: z.number().int().min(1).max(1024).default(16),
  /** A pull that reports no progress for this long is aborted. Default 1m. */
  pullProgressTimeout: duration('1m'),
  /** How long shutdown waits for in-flight calls. Default 30s. */
  gracePeriod: duration('30s'),
  /** Address of /metrics, /healthz and /readyz: loopback, or the node's own IP for Prometheus (never every interface). Default 127.0.0.1:9464. */
  metricsListen: nodeListenAddress('127.0.0.1:9464'),
  /** error, warn, info or debug. Default info. */
  logLevel: logLevelSetting(),
  /** json or text. Default json. */
  logFormat: logFormatSetting(),
  /** Credential rules (see the README's credentials section); absent means kubelet's own credentials only. */
  credentials: credentialsSchema().optional(),
  /** Serve kubelet's credential provider plugin as the node agent on `credentialProvider.agentSocket`, from the same rules and token cache (README, credential provider). Absent: no agent. */
  credentialProvider: credentialProviderSchema.optional(),
});

/** The validated settings (durations in milliseconds, the socket mode as a number). */
export type ImageServiceConfig = z.output<typeof imageServiceSchema>;

/** Flags and environment variables of `imagegate image-service`. */
export const imageServiceBindings: Binding[] = [
  { flag: 'socket', env: 'IMAGEGATE_SOCKET', path: 'socket', help: 'Unix socket to serve on' },
  { flag: 'socket-mode', env: 'IMAGEGATE_SOCKET_MODE', path: 'socketMode', help: 'socket permission bits, octal' },
  { flag: 'backend', env: 'IMAGEGATE_BACKEND', path: 'backend', help: 'image backend: docker or cri' },
  { flag: 'cri-endpoint', env: 'IMAGEGATE_CRI_ENDPOINT', path: 'criEndpoint', help: 'runtime CRI socket for --backend cri' },
  { flag: 'docker-host', env: 'IMAGEGATE_DOCKER_HOST', path: 'dockerHost', help: 'Docker Engine endpoint' },
  { flag: 'pinned-image', env: 'IMAGEGATE_PINNED_IMAGES', path: 'pinnedImages', type: 'list', help: 'image reported as pinned; repeat or comma-separate' },
  { flag: 'max-concurrent-pulls', env: 'IMAGEGATE_MAX_CONCURRENT_PULLS', path: 'maxConcurrentPulls', type: 'number', help: 'PullImage calls served at once; more get RESOURCE_EXHAUSTED' },
  { flag: 'pull-progress-timeout', env: 'IMAGEGATE_PULL_PROGRESS_TIMEOUT', path: 'pullProgressTimeout', help: 'abort a pull without progress for this long' },
  { flag: 'grace-period', env: 'IMAGEGATE_GRACE_PERIOD', path: 'gracePeriod', help: 'time in-flight calls get on shutdown' },
  commonFlags.metricsListen('metricsListen', 'IMAGEGATE_METRICS_LISTEN', { note: 'loopback or the node IP' }),
  commonFlags.logLevel('logLevel'),
  commonFlags.logFormat('logFormat'),
];

/** What `imagegate image-service` reads. */
export const imageServiceFlags: FlagTable<typeof imageServiceSchema> = { schema: imageServiceSchema, bindings: imageServiceBindings };

/** Loads and validates the settings from flags, IMAGEGATE_* variables and the YAML file; throws ConfigError. */
export function loadImageServiceConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): Loaded<ImageServiceConfig> {
  return loadConfig({ command: 'image-service', schema: imageServiceSchema, bindings: imageServiceBindings, argv, env });
}

/**
 * The one place PullCredentials are built from the configuration. Without a
 * `credentials` section every pull uses what kubelet sent.
 */
export function choosePullCredentials(config: ImageServiceConfig, logger: Logger, metricsRegistry?: Registry, services?: CredentialServices): PullCredentials {
  return config.credentials ? buildPullCredentials(config.credentials, { logger, metrics: metricsRegistry, services }) : kubeletOnly;
}
