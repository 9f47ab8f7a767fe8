import type { Logger } from '../log/logger';
import type { ImageServiceConfig } from './config';
import { DockerBackend } from './docker/backend';
import { parseDockerHost } from './docker/engine';
import { CriForwardBackend } from './cri/backend';
import type { ImageBackend } from './image-backend';

/** Creates a backend from the validated configuration. */
export type BackendFactory = (config: ImageServiceConfig, logger: Logger) => ImageBackend;

const factories = new Map<string, BackendFactory>();

/** Adds a backend under `name` (the value of `--backend`); a duplicate name is a programming error. */
export function registerBackend(name: string, factory: BackendFactory): void {
  if (factories.has(name)) throw new Error(`image backend "${name}" registered twice`);
  factories.set(name, factory);
}

/** Names of the registered backends. */
export function backendNames(): string[] {
  return [...factories.keys()];
}

/** The backend the configuration names (validated at load time). */
export function createBackend(config: ImageServiceConfig, logger: Logger): ImageBackend {
  const factory = factories.get(config.backend);
  if (!factory) throw new Error(`unknown image backend "${config.backend}"`);
  return factory(config, logger);
}

// The built-in backends, registered here and nowhere else.
registerBackend('docker', (config, logger) => new DockerBackend({ endpoint: parseDockerHost(config.dockerHost)!, pullProgressTimeoutMs: config.pullProgressTimeout, logger }));
registerBackend('cri', (config) => new CriForwardBackend({ endpoint: config.criEndpoint }));
