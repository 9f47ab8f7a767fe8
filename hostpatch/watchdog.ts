import { formatDuration } from '../src/config/duration';
import { KUBELET_UNIT, OWNED } from './paths';

/** How often the host-side watchdog checks, and after how long without a heartbeat it reverts. */
export interface WatchdogTiming {
  intervalMs: number;
  timeoutMs: number;
}

/**
 * The watchdog's shell script. It needs only `/bin/sh`, `rm` and `systemctl`,
 * which every systemd node image has. Each run compares the heartbeat the
 * patcher writes (only after imagegate answered ImageFsInfo) with the one it
 * saw last; after ceil(timeout / interval) runs without a change it removes
 * the kubelet drop-in and config copy, reloads systemd and restarts kubelet
 * on its default image service. Worst case: timeout + interval after the
 * last heartbeat, plus kubelet's own start-up.
 */
export function watchdogScript(timing: WatchdogTiming): string {
  const limit = Math.max(1, Math.ceil(timing.timeoutMs / timing.intervalMs));
  return `#!/bin/sh
# imagegate watchdog: written by \`imagegate hostpatch apply\`, removed by \`imagegate hostpatch revert\`
# and by any reboot. Reverts imagegate's kubelet patch when imagegate has not been seen answering
# for ${formatDuration(timing.timeoutMs)} (${limit} checks, one every ${formatDuration(timing.intervalMs)}).
dropin=${OWNED.dropIn}
[ -e "$dropin" ] || exit 0
beat=
[ -r ${OWNED.heartbeat} ] && read -r beat < ${OWNED.heartbeat}
last=
misses=0
[ -r ${OWNED.watchdogState} ] && read -r last misses < ${OWNED.watchdogState}
if [ -n "$beat" ] && [ "b$beat" != "$last" ]; then misses=0; else misses=$((misses + 1)); fi
echo "b$beat $misses" > ${OWNED.watchdogState}
[ "$misses" -lt ${limit} ] && exit 0
echo "imagegate has not answered ImageFsInfo for ${formatDuration(timing.timeoutMs)}: reverting the kubelet patch and restarting kubelet"
rm -f "$dropin" ${OWNED.configCopy('json')} ${OWNED.configCopy('yaml')}
echo "reverted: no heartbeat for ${formatDuration(timing.timeoutMs)}" > ${OWNED.watchdogReverted}
systemctl daemon-reload
systemctl restart ${KUBELET_UNIT}
`;
}

/** The oneshot service that runs the script. */
export function watchdogService(): string {
  return `# Written by imagegate hostpatch; removed by \`imagegate hostpatch revert\` and by any reboot.
[Unit]
Description=imagegate watchdog: revert the kubelet patch when imagegate stops answering
After=${KUBELET_UNIT}

[Service]
Type=oneshot
ExecStart=/bin/sh ${OWNED.watchdogScript}
`;
}

/** The timer that runs the service every interval, from the moment it is started. */
export function watchdogTimer(timing: WatchdogTiming): string {
  const every = `${Math.max(1, Math.round(timing.intervalMs / 1000))}s`;
  return `# Written by imagegate hostpatch; removed by \`imagegate hostpatch revert\` and by any reboot.
[Unit]
Description=imagegate watchdog timer (every ${every})

[Timer]
OnActiveSec=${every}
OnUnitActiveSec=${every}
AccuracySec=100ms
`;
}
