import type * as grpc from '@grpc/grpc-js';
import { call, imageServiceClient } from '../src/cri/client/connect';
import type { Logger } from '../src/log/logger';
import type { KubeApi } from './kube-api';

export interface PrepullOptions {
  api: KubeApi;
  namespace: string;
  daemonSet: string;
  /** The image service's socket as this process sees it. */
  socket: string;
  /** Time for every pull together. */
  timeoutMs: number;
  log: Logger;
}

export type PrepullResult = { image: string; outcome: 'present' | 'pulled' | 'failed'; error?: string };

/**
 * The patcher's preStop hook: before this pod stops, pull the images of its
 * DaemonSet's current pod template through the image service that still runs
 * (the native sidecar stops after the patcher). When the pod stops for a
 * rolling update, the template already names the new image, so the successor
 * starts from an image on the node, while the socket kubelet pulls through is
 * down, and adopts the patch: no watchdog revert, no kubelet restart. With no
 * DaemonSet (deleted) there is nothing to pull. Never throws for a pull: a
 * preStop that fails only delays the pod's end.
 */
export async function prepullSuccessor(o: PrepullOptions): Promise<PrepullResult[] | undefined> {
  const images = await o.api.daemonSetImages(o.namespace, o.daemonSet);
  if (images === undefined) {
    o.log.info('no DaemonSet: no successor image to pull', { namespace: o.namespace, daemonSet: o.daemonSet });
    return undefined;
  }
  const client = imageServiceClient(`unix://${o.socket}`) as unknown as grpc.Client;
  const deadline = Date.now() + o.timeoutMs;
  const results: PrepullResult[] = [];
  try {
    for (const image of images) {
      const timeoutMs = Math.max(1, deadline - Date.now());
      try {
        const status = await call<object, { image?: unknown }>(client, 'ImageStatus', { image: { image } }, { timeoutMs });
        if (status.image) {
          results.push({ image, outcome: 'present' });
          continue;
        }
        await call(client, 'PullImage', { image: { image } }, { timeoutMs });
        o.log.info('pulled the successor image', { image });
        results.push({ image, outcome: 'pulled' });
      } catch (err) {
        const error = (err as Error).message;
        o.log.warn('could not pull the successor image; the next pod pulls it itself', { image, error });
        results.push({ image, outcome: 'failed', error });
      }
    }
  } finally {
    client.close();
  }
  return results;
}
