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
 * The DaemonSet's long-running patcher: every `heartbeatMs` it asks
 * imagegate for ImageFsInfo and, when it answers, renews the heartbeat the
 * host watchdog watches. When the patch is missing (first start, a reboot,
 * or the watchdog reverted it) and imagegate has answered STABLE_CHECKS
 * times in a row, it applies it — after a failure it waits 1, 2, 4 … 30
 * minutes before the next try, so a flapping imagegate cannot make kubelet
 * restart in a loop. Its first apply also runs when a patch is already in
 * place (a restarted pod), which changes nothing unless the patch differs.
 * When `stop` resolves it stops re-applying and, with `revertOnExit` (the
 * DaemonSet's setting), reverts the node before returning — the pod's
 * cleanup path: deleting the DaemonSet reverts every node.
 */
export async function watch(patcher: Patcher, opts: PatcherOptions, heartbeatMs: number, stop: Promise<unknown>, revertOnExit: boolean): Promise<void> {
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
    } else if (streak >= STABLE_CHECKS && Date.now() >= nextTry) {
      try {
        const result = await patcher.apply();
        backoffMs = 0;
        verified = true;
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
  if (revertOnExit) {
    log.info('stopping: reverting the node before exit');
    const result = await patcher.revert();
    await markNode(log, opts.nodeName, 'reverted', { result, reason: 'patcher stopped', at: new Date().toISOString() });
  }
}
