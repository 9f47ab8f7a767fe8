import type { Logger } from '../src/log/logger';
import type { WatchdogTiming } from './watchdog';

/** Everything `apply`, `revert`, `status` and the watch loop need; defaults live in command.ts. */
export interface PatcherOptions {
  /** Where the host's root filesystem is mounted (`/` on the node itself). */
  hostRoot: string;
  /** Host path of imagegate's socket; kubelet gets `unix://<socket>`. */
  socket: string;
  /** kubelet version (`1.29`, `v1.30.2`); when absent it is read from the node object in the cluster. */
  kubeletVersion?: string;
  /** `auto` picks `config` for kubelet ≥ 1.27 and `flag` before. */
  mode: 'auto' | 'config' | 'flag';
  /** How long `apply` waits for imagegate to answer ImageFsInfo before refusing. */
  waitMs: number;
  healthzUrl: string;
  /** How long kubelet has to answer healthz after a restart before the patch is rolled back. */
  healthzTimeoutMs: number;
  watchdog: WatchdogTiming;
  /** The node's name (downward API), for the version lookup and the label. */
  nodeName?: string;
  log: Logger;
}
