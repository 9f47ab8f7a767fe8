import type { Logger } from '../src/log/logger';
import { type Container, type KubeApi, templateContainers } from './kube-api';

/**
 * Whether a pod of this DaemonSet that stops now has a successor on its node
 * that does the same job: the DaemonSet exists, is not being deleted, and its
 * template still has a container `sameJob` accepts. Then what the pod put on
 * the node can stay for the successor to adopt (an identical entry is left as
 * it is: no kubelet restart). False — clean up — outside a cluster, when the
 * DaemonSet is gone or going, when the template no longer does this job, and
 * when the API cannot be asked: the node's own state is the safe default.
 */
export async function successorExpected(
  api: KubeApi | undefined,
  daemonSet: string,
  sameJob: (c: Container) => boolean,
  log: Logger,
): Promise<boolean> {
  if (!api?.namespace) return false;
  try {
    const ds = await api.daemonSet(api.namespace, daemonSet);
    if (!ds) return false;
    if (ds.metadata?.deletionTimestamp) return false;
    return templateContainers(ds).some(sameJob);
  } catch (err) {
    log.warn('could not read the DaemonSet to decide on a handover; cleaning up', { daemonSet, error: (err as Error).message });
    return false;
  }
}
