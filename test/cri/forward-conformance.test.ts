import { CriForwardBackend } from '../../src/cri/cri/backend';
import { requireUnixSocket, services } from '../../testing/services';
import { describeConformance } from './conformance';

describeConformance('cri (containerd)', async () => {
  await requireUnixSocket('containerd (CRI)', services.containerdSocket);
  return new CriForwardBackend({ endpoint: `unix://${services.containerdSocket}` });
});
