import { Systemd, type UnitState } from './dbus/systemd';
import { RefusalError, RolledBackError } from './errors';
import { HostFs } from './host';
import { KubeApi } from './kube-api';
import { endpointMode, parseKubeletVersion } from './kubelet-config';
import { detectLayout } from './layout';
import type { PatcherOptions } from './options';
import { ALL_OWNED_FILES, KUBELET_UNIT, OWNED, WATCHDOG_SERVICE, WATCHDOG_TIMER } from './paths';
import { makePlan, type Plan } from './plan';
import { healthzOk, imageFsInfoAnswers, waitFor } from './probe';

/** What `apply` recorded in state.json. */
export interface AppliedState {
  layout: string;
  mode: 'config' | 'flag';
  endpoint: string;
  kubeletVersion: string;
  appliedAt: string;
  files: string[];
}

/**
 * Applies and reverts imagegate's kubelet patch on one node. Each call
 * connects to the host's systemd, does its work and disconnects. Refusals
 * (RefusalError) happen before any change; a patch kubelet does not survive
 * is rolled back (RolledBackError).
 */
export class Patcher {
  readonly host: HostFs;

  constructor(private readonly opts: PatcherOptions) {
    this.host = new HostFs(opts.hostRoot);
  }

  /** Connects to `<hostRoot>/run/systemd/private`, refusing with the reason when it cannot. */
  async connect(): Promise<Systemd> {
    const socket = this.host.path('/run/systemd/private');
    try {
      return await Systemd.connect(socket);
    } catch (err) {
      throw new RefusalError(
        `cannot reach the host's systemd at ${socket} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); mount the host's /run (or /run/systemd) and run as root — nothing was changed`,
      );
    }
  }

  /**
   * Patches kubelet to use imagegate. Returns `unchanged` when the node
   * already has exactly this patch (nothing written, nothing restarted).
   */
  async apply(): Promise<'applied' | 'unchanged'> {
    const { log } = this.opts;
    const systemd = await this.connect();
    try {
      await this.host.requireWritable([OWNED.dropInDir, OWNED.stateDir]);
      const { layout, version, mode, plan } = await this.plan();
      const kubelet = await systemd.state(KUBELET_UNIT);
      if ((await this.matches(plan)) && kubelet.activeState === 'active' && !kubelet.needDaemonReload) {
        await this.host.write(OWNED.heartbeat, `${Date.now()}\n`);
        if ((await systemd.state(WATCHDOG_TIMER)).activeState !== 'active') await systemd.start(WATCHDOG_TIMER);
        log.info('patch already applied; nothing to do', { layout: layout.name, mode });
        return 'unchanged';
      }
      const socketPath = this.host.path(this.opts.socket);
      log.info('waiting for imagegate to answer ImageFsInfo', { socket: socketPath });
      if (!(await waitFor(() => imageFsInfoAnswers(socketPath, this.opts.socket), this.opts.waitMs, 1000))) {
        throw new RefusalError(`imagegate did not answer ImageFsInfo on ${socketPath} within ${this.opts.waitMs} ms; kubelet stays on its own image service, nothing was changed`);
      }
      await this.host.remove(OWNED.watchdogReverted);
      await this.host.remove(OWNED.watchdogState);
      await this.host.write(OWNED.heartbeat, `${Date.now()}\n`);
      let healthy: boolean;
      try {
        for (const f of plan.files) await this.host.write(f.hostPath, f.content, f.mode);
        for (const stale of [OWNED.configCopy('json'), OWNED.configCopy('yaml')]) {
          if (!plan.files.some((f) => f.hostPath === stale)) await this.host.remove(stale);
        }
        await systemd.reload();
        await systemd.start(WATCHDOG_TIMER);
        log.info('restarting kubelet with imagegate as its image service', { layout: layout.name, mode, endpoint: plan.endpoint });
        await systemd.restart(KUBELET_UNIT);
        healthy = await this.waitHealthy(systemd, kubelet);
      } catch (err) {
        log.error('applying the patch failed; rolling back', { error: (err as Error).message });
        await this.removePatch(systemd);
        throw err;
      }
      if (!healthy) {
        log.error('kubelet did not become healthy with imagegate; rolling back', { timeoutMs: this.opts.healthzTimeoutMs });
        await this.removePatch(systemd);
        throw new RolledBackError(`kubelet did not answer ${this.opts.healthzUrl} within ${this.opts.healthzTimeoutMs} ms after the patch; rolled back and restarted kubelet on its own image service`);
      }
      const state: AppliedState = {
        layout: layout.name, mode, endpoint: plan.endpoint, kubeletVersion: version.text,
        appliedAt: new Date().toISOString(), files: plan.files.map((f) => f.hostPath),
      };
      await this.host.write(OWNED.state, JSON.stringify(state, null, 2) + '\n');
      log.info('patch applied; kubelet healthy', { layout: layout.name, mode });
      return 'applied';
    } finally {
      systemd.close();
    }
  }

  /** Removes everything the patcher wrote; restarts kubelet only when its drop-in was in place. */
  async revert(): Promise<'reverted' | 'nothing'> {
    const systemd = await this.connect();
    try {
      const present = [];
      for (const f of ALL_OWNED_FILES) if (await this.host.exists(f)) present.push(f);
      if (present.length === 0) {
        this.opts.log.info('no imagegate patch on this node; nothing to revert');
        return 'nothing';
      }
      await this.host.requireWritable([OWNED.dropInDir, OWNED.stateDir]);
      await this.removePatch(systemd);
      return 'reverted';
    } finally {
      systemd.close();
    }
  }

  /**
   * True when the node carries exactly the patch `apply` would write now
   * (another patcher's, e.g. the previous pod's during an upgrade), so
   * `apply` adopts it ('unchanged') without restarting kubelet.
   */
  async identical(): Promise<boolean> {
    if (!(await this.patchPresent())) return false;
    return this.matches((await this.plan()).plan);
  }

  /** What `apply` would write on this node now. */
  private async plan(): Promise<{ layout: { name: string }; version: { text: string }; mode: 'config' | 'flag'; plan: Plan }> {
    const layout = await detectLayout(this.host);
    const version = await this.kubeletVersion();
    const mode = this.opts.mode === 'auto' ? endpointMode(version.parsed) : this.opts.mode;
    const plan = await makePlan({ host: this.host, layout, endpoint: `unix://${this.opts.socket}`, mode, watchdog: this.opts.watchdog });
    return { layout, version, mode, plan };
  }

  /** True when the drop-in is in place (the watchdog or a reboot removes it). */
  async patchPresent(): Promise<boolean> {
    return this.host.exists(OWNED.dropIn);
  }

  /** Stops the watchdog, removes every owned file, reloads systemd and — if kubelet was patched — restarts it and waits for health. */
  private async removePatch(systemd: Systemd): Promise<void> {
    const wasPatched = await this.patchPresent();
    await systemd.stop(WATCHDOG_TIMER);
    await systemd.stop(WATCHDOG_SERVICE);
    for (const f of ALL_OWNED_FILES) await this.host.remove(f);
    await this.host.removeDirIfEmpty(OWNED.stateDir);
    await this.host.removeDirIfEmpty(OWNED.dropInDir);
    await systemd.reload();
    if (!wasPatched) return;
    const before = await systemd.state(KUBELET_UNIT);
    this.opts.log.info('restarting kubelet on its own image service');
    await systemd.restart(KUBELET_UNIT);
    if (!(await this.waitHealthy(systemd, before))) {
      throw new Error(`kubelet did not answer ${this.opts.healthzUrl} within ${this.opts.healthzTimeoutMs} ms after the revert; the node's own configuration is in place`);
    }
  }

  /** Waits for a new kubelet invocation to be active and to answer healthz. */
  private async waitHealthy(systemd: Systemd, before: UnitState): Promise<boolean> {
    const deadline = Date.now() + this.opts.healthzTimeoutMs;
    const started = await waitFor(async () => {
      const now = await systemd.state(KUBELET_UNIT);
      return now.invocationId !== before.invocationId && now.activeState === 'active';
    }, this.opts.healthzTimeoutMs);
    if (!started) return false;
    return waitFor(() => healthzOk(this.opts.healthzUrl), Math.max(0, deadline - Date.now()));
  }

  private async matches(plan: Plan): Promise<boolean> {
    if (!(await this.host.exists(OWNED.state))) return false;
    for (const f of plan.files) if ((await this.host.read(f.hostPath)) !== f.content) return false;
    return true;
  }

  private async kubeletVersion(): Promise<{ text: string; parsed: { major: number; minor: number } }> {
    let text = this.opts.kubeletVersion;
    if (!text) {
      const api = KubeApi.inCluster();
      if (!api || !this.opts.nodeName) {
        throw new RefusalError('kubelet version unknown: pass --kubelet-version, or run in the cluster with NODE_NAME set; nothing was changed');
      }
      try {
        text = await api.kubeletVersion(this.opts.nodeName);
      } catch (err) {
        throw new RefusalError(`cannot read the kubelet version of node ${this.opts.nodeName}: ${(err as Error).message}; nothing was changed`);
      }
    }
    const parsed = parseKubeletVersion(text);
    if (!parsed) throw new RefusalError(`--kubelet-version: "${text}" is not a version like 1.29 or v1.30.2`);
    return { text, parsed };
  }
}
