import { DockerBackend } from '../../src/cri/docker/backend';
import { parseDockerHost } from '../../src/cri/docker/engine';
import { requireUnixSocket, services } from '../../testing/services';
import { describeConformance } from './conformance';

describeConformance('docker', async () => {
  await requireUnixSocket('Docker Engine', services.dockerSocket);
  return new DockerBackend({ endpoint: parseDockerHost(`unix://${services.dockerSocket}`)!, pullProgressTimeoutMs: 60_000 });
});
