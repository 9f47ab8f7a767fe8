import { z } from 'zod';
import type { ImageBackendFactory } from '../image-backend';
import { DockerBackend } from './backend';
import { parseDockerHost } from './engine';

/** What the `docker` backend reads of the image service's settings (validated there: `--docker-host`, `--pull-progress-timeout`). */
const params = z.object({
  dockerHost: z.string().refine((text) => parseDockerHost(text) !== undefined, { message: 'use unix:///path/to/docker.sock or tcp://host:port' }),
  pullProgressTimeout: z.number().positive(),
});

/** `docker`: images in Docker Engine, through its API. */
export const dockerBackendFactory: ImageBackendFactory<z.output<typeof params>> = {
  name: 'docker',
  params,
  create: (p, deps) => new DockerBackend({ endpoint: parseDockerHost(p.dockerHost)!, pullProgressTimeoutMs: p.pullProgressTimeout, logger: deps.logger }),
};
