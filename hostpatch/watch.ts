import { RefusalError } from './errors';
import { markNode } from './kube-api';
import { OWNED } from './paths';
import type { Patcher } from './patcher';
import { imageFsInfoAnswers } from './probe';
import type { PatcherOptions } from './options';

const STABLE_CHECKS = 3;
const FIRST_BACKOFF_MS = 60_000;
const MAX_BACKOFF_MS = 30 * 60_000;

/**
 * What the patcher does with the node's patch when it stops:
 * - `handover` (the DaemonSet's): leave it in place and stop renewing the
 *   heartbeat. A successor (the next pod of a rolling update) that finds the
 *   identical patch adopts it without restarting kubelet; with no successor
 *   (DaemonSet deleted) the host watchdog reverts it within its timeout +
 *   interval. An upgrade thus restarts kubelet at most once per node.
 * - `revert`: revert before exiting (one kubelet restart), as
 *   `--revert-on-exit` asks.
 */
export type OnExit = 'handover' | 'revert';

/**
 * The DaemonSet's long-running patcher: every `heartbeatMs` it asks
 * imagegate for ImageFsInfo and, when it answers, renews the heartbeat the
 * host watchdog watches. When imagegate answers and the node already carries
 * exactly the patch this patcher would write (a previous pod's, left for a
 * handover), it adopts it at once: `apply` answers `unchanged`, renews the
 * heartbeat and restarts nothing. When the patch is missing (first start, a
 * reboot, or the watchdog reverted it) or differs, it applies it once
 * imagegate has answered STABLE_CHECKS times in a row — after a failure it
 * waits 1, 2, 4 … 30 minutes before the next try, so a flapping imagegate
 * cannot make kubelet restart in a loop. When `stop` resolves it stops
 * renewing and leaves (`handover`) or reverts (`revert`) the patch.
 */
export async function watch(patcher: Patcher, opts: PatcherOptions, heartbeatMs: number, stop: Promise<unknown>, onExit: OnExit): Promise<void> {
  const { log } = opts;
  let stopped = false;
  void stop.then(() => (stopped = true));
  let streak = 0;
  let backoffMs = 0;
  let nextTry = 0;
  let verified = false;
  const socket = patcher.host.path(opts.socket);
  let answered: boolean | undefined;
  while (!stopped) {
    const answers = await imageFsInfoAnswers(socket, opts.socket);
    streak = answers ? streak + 1 : 0;
    if (answers !== answered) log.info(answers ? 'imagegate answers ImageFsInfo' : 'imagegate stopped answering ImageFsInfo', { socket });
    answered = answers;
    if (answers && verified && (await patcher.patchPresent())) {
      await patcher.host.write(OWNED.heartbeat, `${Date.now()}\n`);
    } else if (!answers) {
      log.debug('no ImageFsInfo answer; heartbeat not renewed (the watchdog reverts the patch if this lasts)', { socket });
    } else if (Date.now() >= nextTry && (streak >= STABLE_CHECKS || (await adoptable(patcher, log)))) {
      try {
        const result = await patcher.apply();
        backoffMs = 0;
        verified = true;
        if (result === 'unchanged') log.info('adopted the patch in place; kubelet not restarted');
        await markNode(log, opts.nodeName, 'applied', { result, at: new Date().toISOString() });
      } catch (err) {
        backoffMs = Math.min(MAX_BACKOFF_MS, backoffMs ? backoffMs * 2 : FIRST_BACKOFF_MS);
        nextTry = Date.now() + backoffMs;
        const state = err instanceof RefusalError ? 'refused' : 'rolled-back';
        log.error('could not apply the kubelet patch', { error: (err as Error).message, retryInMs: backoffMs });
        await markNode(log, opts.nodeName, state, { error: (err as Error).message, at: new Date().toISOString() });
      }
    }
    await Promise.race([stop, new Promise((r) => setTimeout(r, heartbeatMs))]);
  }
  if (onExit === 'revert') {
    log.info('stopping: reverting the node before exit');
    const result = await patcher.revert();
    await markNode(log, opts.nodeName, 'reverted', { result, reason: 'patcher stopped', at: new Date().toISOString() });
    return;
  }
  if (await patcher.patchPresent()) {
    const boundMs = opts.watchdog.timeoutMs + opts.watchdog.intervalMs;
    log.info('stopping: leaving the patch for a successor; the host watchdog reverts it unless a patcher renews the heartbeat', { revertWithinMs: boundMs });
    await markNode(log, opts.nodeName, 'handover', { reason: 'patcher stopped', revertWithinMs: boundMs, at: new Date().toISOString() });
  }
}

/** True when the node already carries exactly this patcher's patch (a predecessor's): adopting it restarts nothing, so no stability streak is needed. */
async function adoptable(patcher: Patcher, log: PatcherOptions['log']): Promise<boolean> {
  try {
    return await patcher.identical();
  } catch (err) {
    log.debug('cannot compare the patch in place', { error: (err as Error).message });
    return false;
  }
}
