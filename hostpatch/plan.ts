import { RefusalError } from './errors';
import type { HostFs } from './host';
import { patchedKubeletConfig } from './kubelet-config';
import type { Layout } from './layout';
import { KUBELET_UNIT, OWNED } from './paths';
import { effectiveExecStart, laterExecStartDropIns, loadUnit } from './unit-file';
import { watchdogScript, watchdogService, watchdogTimer, type WatchdogTiming } from './watchdog';

/** One file the patcher owns, with the exact bytes it should hold. */
export interface OwnedFile {
  hostPath: string;
  content: string;
  mode?: number;
}

/** What `apply` puts on the node: computed from the node's files, deterministic, written in order. */
export interface Plan {
  layout: Layout;
  /** `config`: a copy of kubelet's config with imageServiceEndpoint (kubelet ≥ 1.27); `flag`: --image-service-endpoint. */
  mode: 'config' | 'flag';
  endpoint: string;
  /** kubelet's ExecStart before the patch. */
  execStart: string;
  /** Watchdog files first, the kubelet drop-in last. */
  files: OwnedFile[];
}

export interface PlanInput {
  host: HostFs;
  layout: Layout;
  endpoint: string;
  mode: 'config' | 'flag';
  watchdog: WatchdogTiming;
}

/**
 * Works out the patch for this node. kubelet's own unit and drop-ins are
 * only read: the patcher's drop-in resets ExecStart and repeats the node's
 * command line with `$IMAGEGATE_KUBELET_ARGS` appended, so flags win over
 * anything the node set. Refuses when the unit has no single ExecStart or a
 * later drop-in would override the patcher's.
 */
export async function makePlan(input: PlanInput): Promise<Plan> {
  const { host, layout, endpoint, mode } = input;
  const unit = await loadUnit(host, KUBELET_UNIT, [OWNED.dropInName]);
  const exec = effectiveExecStart(unit);
  if (exec.length !== 1) {
    throw new RefusalError(`kubelet.service has ${exec.length} ExecStart= lines after its drop-ins (expected 1); refusing, nothing was changed`);
  }
  const later = laterExecStartDropIns(unit, OWNED.dropInName);
  if (later.length > 0) {
    throw new RefusalError(`${later.join(', ')} sort after ${OWNED.dropInName} and set ExecStart=, which would undo the patch; refusing, nothing was changed`);
  }
  const files: OwnedFile[] = [
    { hostPath: OWNED.watchdogScript, content: watchdogScript(input.watchdog), mode: 0o755 },
    { hostPath: OWNED.watchdogService, content: watchdogService() },
    { hostPath: OWNED.watchdogTimer, content: watchdogTimer(input.watchdog) },
  ];
  let args: string;
  if (mode === 'config') {
    const original = await host.read(layout.kubeletConfig);
    if (original === undefined) throw new RefusalError(`kubelet config ${layout.kubeletConfig} is missing; refusing, nothing was changed`);
    const copy = OWNED.configCopy(layout.kubeletConfig.endsWith('.json') ? 'json' : 'yaml');
    files.push({ hostPath: copy, content: patchedKubeletConfig(original, layout.kubeletConfig, endpoint) });
    args = `--config=${copy}`;
  } else {
    args = `--image-service-endpoint=${endpoint}`;
  }
  files.push({ hostPath: OWNED.dropIn, content: dropIn(layout, mode, exec[0], args) });
  return { layout, mode, endpoint, execStart: exec[0], files };
}

function dropIn(layout: Layout, mode: string, execStart: string, args: string): string {
  return `# Written by imagegate hostpatch (layout ${layout.name}, ${mode} mode). It lives under /run, so a reboot
# removes it; \`imagegate hostpatch revert\` and the imagegate watchdog remove it too.
[Service]
Environment="IMAGEGATE_KUBELET_ARGS=${args}"
ExecStart=
ExecStart=${execStart} $IMAGEGATE_KUBELET_ARGS
`;
}
