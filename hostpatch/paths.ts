/**
 * Every host file the patcher owns. All live under /run, so a reboot removes
 * them and kubelet starts on the node's own image service; nothing outside
 * this list is ever written.
 */
export const OWNED = {
  /** The kubelet drop-in; 99- so it sorts after the node image's own drop-ins. */
  dropInName: '99-imagegate.conf',
  dropIn: '/run/systemd/system/kubelet.service.d/99-imagegate.conf',
  dropInDir: '/run/systemd/system/kubelet.service.d',
  stateDir: '/run/imagegate/hostpatch',
  /** Copy of kubelet's config with imageServiceEndpoint set (config mode); extension as the original. */
  configCopy: (ext: 'json' | 'yaml') => `/run/imagegate/hostpatch/kubelet-config.${ext}`,
  /** What was applied (JSON), for `status`. */
  state: '/run/imagegate/hostpatch/state.json',
  /** Rewritten by the patcher every time imagegate answers ImageFsInfo; the watchdog watches it change. */
  heartbeat: '/run/imagegate/hostpatch/heartbeat',
  watchdogScript: '/run/imagegate/hostpatch/watchdog.sh',
  watchdogState: '/run/imagegate/hostpatch/watchdog.state',
  /** Written by the watchdog when it reverted the patch. */
  watchdogReverted: '/run/imagegate/hostpatch/reverted-by-watchdog',
  watchdogService: '/run/systemd/system/imagegate-watchdog.service',
  watchdogTimer: '/run/systemd/system/imagegate-watchdog.timer',
} as const;

export const KUBELET_UNIT = 'kubelet.service';
export const WATCHDOG_TIMER = 'imagegate-watchdog.timer';
export const WATCHDOG_SERVICE = 'imagegate-watchdog.service';

/** Every owned file, in the order `revert` removes them (the drop-in first). */
export const ALL_OWNED_FILES: string[] = [
  OWNED.dropIn,
  OWNED.configCopy('json'),
  OWNED.configCopy('yaml'),
  OWNED.watchdogTimer,
  OWNED.watchdogService,
  OWNED.watchdogScript,
  OWNED.watchdogState,
  OWNED.watchdogReverted,
  OWNED.heartbeat,
  OWNED.state,
];
