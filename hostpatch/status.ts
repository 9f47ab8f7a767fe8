import { statSync } from 'node:fs';
import type { Systemd } from './dbus/systemd';
import type { HostFs } from './host';
import { detectLayout } from './layout';
import { ALL_OWNED_FILES, KUBELET_UNIT, OWNED, WATCHDOG_TIMER } from './paths';
import type { AppliedState } from './patcher';

/** What `imagegate hostpatch status` prints (as JSON). */
export interface PatchStatus {
  /** True when kubelet's drop-in is in place. */
  applied: boolean;
  /** The layout the patcher detects, or why it refuses the node. */
  layout: string;
  /** state.json as written by the last successful apply. */
  state?: AppliedState;
  /** Owned files present on the host. */
  files: string[];
  kubelet?: { activeState: string; nRestarts: number; invocationId: string; needDaemonReload: boolean };
  watchdogTimer?: string;
  /** The watchdog's note when it reverted the patch. */
  revertedByWatchdog?: string;
  /** Seconds since imagegate last answered the patcher. */
  heartbeatAgeSeconds?: number;
  error?: string;
}

/** Reads the patch state from the host's files and systemd; never changes anything. */
export async function readStatus(host: HostFs, connect: () => Promise<Systemd>): Promise<PatchStatus> {
  const files: string[] = [];
  for (const f of ALL_OWNED_FILES) if (await host.exists(f)) files.push(f);
  const layout = await detectLayout(host).then((l) => l.name as string, (err: Error) => `refused: ${err.message}`);
  const stateText = await host.read(OWNED.state);
  const status: PatchStatus = {
    applied: files.includes(OWNED.dropIn),
    layout,
    state: stateText ? (JSON.parse(stateText) as AppliedState) : undefined,
    files,
    revertedByWatchdog: (await host.read(OWNED.watchdogReverted))?.trim(),
  };
  if (files.includes(OWNED.heartbeat)) {
    status.heartbeatAgeSeconds = Math.round((Date.now() - statSync(host.path(OWNED.heartbeat)).mtimeMs) / 1000);
  }
  try {
    const systemd = await connect();
    try {
      status.kubelet = await systemd.state(KUBELET_UNIT);
      status.watchdogTimer = (await systemd.state(WATCHDOG_TIMER)).activeState;
    } finally {
      systemd.close();
    }
  } catch (err) {
    status.error = (err as Error).message;
  }
  return status;
}
