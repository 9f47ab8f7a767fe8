import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Systemd, type UnitState } from './dbus/systemd';
import { RefusalError, RolledBackError } from './errors';
import { HostFs } from './host';
import { detectLayout } from './layout';
import { KUBELET_UNIT, OWNED } from './paths';
import { healthzOk, waitFor } from './probe';
import { flagValue, mergedProviderConfig, type ProviderEntry } from './provider-config';
import { effectiveExecStart, laterExecStartDropIns, loadUnit, parseUnit } from './unit-file';
import type { Logger } from '../src/log/logger';

/** What the credential provider installer writes: a drop-in and a config copy under /run (gone at reboot), the executable in kubelet's bin dir. */
export const PROVIDER_OWNED = {
  dropInName: '98-imagegate-credential-provider.conf',
  dropIn: '/run/systemd/system/kubelet.service.d/98-imagegate-credential-provider.conf',
  dropInDir: '/run/systemd/system/kubelet.service.d',
  stateDir: '/run/imagegate/credential-provider',
  config: (format: 'json' | 'yaml') => `/run/imagegate/credential-provider/config.${format}`,
  state: '/run/imagegate/credential-provider/state.json',
  /** The plugin's own settings (rules for minting when the agent is absent), when given. */
  pluginConfig: '/run/imagegate/credential-provider/plugin.yaml',
} as const;

export interface ProviderInstallOptions {
  hostRoot: string;
  /** The self-contained executable to install (a container path). */
  executable: string;
  entry: ProviderEntry;
  /** The plugin's settings file to put on the host (a container path); the entry's args should name PROVIDER_OWNED.pluginConfig. */
  pluginConfig?: string;
  /** Provider entries of the node's config to leave out (e.g. `ecr-credential-provider`). Default none. */
  replace: string[];
  /** kubelet's bin dir when it has none configured (host path). */
  defaultBinDir: string;
  healthzUrl: string;
  healthzTimeoutMs: number;
  log: Logger;
}

/** What `install` recorded. */
export interface ProviderState {
  layout: string;
  config: string;
  binDir: string;
  binary: string;
  originalConfig?: string;
  installedAt: string;
}

/**
 * Installs the credential provider plugin on one node with the image-service
 * patcher's guarantees: nothing of the node's own is edited (kubelet is
 * pointed at a merged copy of its credential provider config through a
 * drop-in under /run, so a reboot undoes it), kubelet is restarted and must
 * answer healthz, else everything is rolled back; `uninstall` removes every
 * file it wrote and restarts kubelet on the node's own configuration.
 */
export class ProviderInstaller {
  readonly host: HostFs;

  constructor(private readonly opts: ProviderInstallOptions) {
    this.host = new HostFs(opts.hostRoot);
  }

  async install(): Promise<'installed' | 'unchanged'> {
    const { log } = this.opts;
    const systemd = await this.connect();
    try {
      const layout = await detectLayout(this.host);
      const unit = await loadUnit(this.host, KUBELET_UNIT, [PROVIDER_OWNED.dropInName]);
      if (await this.host.exists(OWNED.dropIn)) {
        throw new RefusalError(`the image-service patch (${OWNED.dropIn}) is applied; the credential provider and the image-service swap are alternatives — revert one first; nothing was changed`);
      }
      const exec = effectiveExecStart(unit);
      if (exec.length !== 1) throw new RefusalError(`kubelet.service has ${exec.length} ExecStart= lines after its drop-ins (expected 1); refusing, nothing was changed`);
      const later = laterExecStartDropIns(unit, PROVIDER_OWNED.dropInName);
      if (later.length > 0) throw new RefusalError(`${later.join(', ')} sort after ${PROVIDER_OWNED.dropInName} and set ExecStart=; refusing, nothing was changed`);
      const texts = await this.commandLineTexts(unit, exec[0]);
      const originalConfig = flagValue(texts, 'image-credential-provider-config');
      const binDir = flagValue(texts, 'image-credential-provider-bin-dir') ?? this.opts.defaultBinDir;
      const format = originalConfig && /\.json$/i.test(originalConfig) ? 'json' : 'yaml';
      const original = originalConfig ? await this.host.read(originalConfig) : undefined;
      if (originalConfig && original === undefined) throw new RefusalError(`kubelet's --image-credential-provider-config ${originalConfig} does not exist; refusing, nothing was changed`);
      const config = mergedProviderConfig(original, format, this.opts.entry, this.opts.replace);
      const binary = `${binDir.replace(/\/+$/, '')}/${this.opts.entry.name}`;
      const executable = await readFile(this.opts.executable);
      const dropIn = providerDropIn(exec[0], PROVIDER_OWNED.config(format), binDir);
      const pluginConfig = this.opts.pluginConfig ? await readFile(this.opts.pluginConfig, 'utf8') : undefined;
      const kubelet = await systemd.state(KUBELET_UNIT);
      if (
        (await this.host.read(PROVIDER_OWNED.dropIn)) === dropIn && (await this.host.read(PROVIDER_OWNED.config(format))) === config &&
        (await this.sha(binary)) === sha(executable) && (await this.host.read(PROVIDER_OWNED.pluginConfig)) === pluginConfig &&
        kubelet.activeState === 'active' && !kubelet.needDaemonReload
      ) {
        log.info('credential provider already installed; nothing to do', { layout: layout.name });
        return 'unchanged';
      }
      await this.host.requireWritable([PROVIDER_OWNED.dropInDir, PROVIDER_OWNED.stateDir, binDir]);
      let healthy: boolean;
      try {
        await this.host.writeBytes(binary, executable, 0o755);
        if (pluginConfig !== undefined) await this.host.write(PROVIDER_OWNED.pluginConfig, pluginConfig, 0o600);
        await this.host.write(PROVIDER_OWNED.config(format), config);
        await this.host.write(PROVIDER_OWNED.dropIn, dropIn);
        await systemd.reload();
        log.info('restarting kubelet with the imagegate credential provider', { layout: layout.name, config: PROVIDER_OWNED.config(format), binDir });
        await systemd.restart(KUBELET_UNIT);
        healthy = await this.waitHealthy(systemd, kubelet);
      } catch (err) {
        log.error('installing failed; rolling back', { error: (err as Error).message });
        await this.remove(systemd, binary);
        throw err;
      }
      if (!healthy) {
        log.error('kubelet did not become healthy with the credential provider; rolling back', { timeoutMs: this.opts.healthzTimeoutMs });
        await this.remove(systemd, binary);
        throw new RolledBackError(`kubelet did not answer ${this.opts.healthzUrl} within ${this.opts.healthzTimeoutMs} ms with the credential provider; rolled back and restarted kubelet on its own configuration`);
      }
      const state: ProviderState = { layout: layout.name, config: PROVIDER_OWNED.config(format), binDir, binary, originalConfig, installedAt: new Date().toISOString() };
      await this.host.write(PROVIDER_OWNED.state, JSON.stringify(state, null, 2) + '\n');
      log.info('credential provider installed; kubelet healthy', { layout: layout.name });
      return 'installed';
    } finally {
      systemd.close();
    }
  }

  /** Removes everything `install` wrote and restarts kubelet when its drop-in was in place. */
  async uninstall(): Promise<'uninstalled' | 'nothing'> {
    const systemd = await this.connect();
    try {
      const unit = await loadUnit(this.host, KUBELET_UNIT, [PROVIDER_OWNED.dropInName]);
      const exec = effectiveExecStart(unit);
      const texts = exec.length === 1 ? await this.commandLineTexts(unit, exec[0]) : [];
      const binDir = flagValue(texts, 'image-credential-provider-bin-dir') ?? this.opts.defaultBinDir;
      const binary = `${binDir.replace(/\/+$/, '')}/${this.opts.entry.name}`;
      const present = (await this.host.exists(PROVIDER_OWNED.dropIn)) || (await this.host.exists(PROVIDER_OWNED.state)) || (await this.host.exists(binary));
      if (!present) return 'nothing';
      await this.remove(systemd, binary);
      return 'uninstalled';
    } finally {
      systemd.close();
    }
  }

  private async remove(systemd: Systemd, binary: string): Promise<void> {
    const wasInstalled = await this.host.exists(PROVIDER_OWNED.dropIn);
    for (const f of [PROVIDER_OWNED.dropIn, PROVIDER_OWNED.config('json'), PROVIDER_OWNED.config('yaml'), PROVIDER_OWNED.pluginConfig, PROVIDER_OWNED.state]) await this.host.remove(f);
    await this.host.removeDirIfEmpty(PROVIDER_OWNED.stateDir);
    await this.host.removeDirIfEmpty('/run/imagegate');
    await this.host.removeDirIfEmpty(PROVIDER_OWNED.dropInDir);
    await systemd.reload();
    if (wasInstalled) {
      const before = await systemd.state(KUBELET_UNIT);
      this.opts.log.info('restarting kubelet on its own credential provider configuration');
      await systemd.restart(KUBELET_UNIT);
      if (!(await this.waitHealthy(systemd, before))) {
        throw new Error(`kubelet did not answer ${this.opts.healthzUrl} within ${this.opts.healthzTimeoutMs} ms after the uninstall; the node's own configuration is in place`);
      }
    }
    // The executable goes last: kubelet no longer names it. Directories it alone needed go too (never a top-level one).
    await this.host.remove(binary);
    for (let dir = binary.slice(0, binary.lastIndexOf('/')); dir.split('/').filter(Boolean).length >= 2; dir = dir.slice(0, dir.lastIndexOf('/'))) {
      await this.host.removeDirIfEmpty(dir);
    }
  }

  private async connect(): Promise<Systemd> {
    const socket = this.host.path('/run/systemd/private');
    try {
      return await Systemd.connect(socket);
    } catch (err) {
      throw new RefusalError(`cannot reach the host's systemd at ${socket} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); mount the host's /run and run as root — nothing was changed`);
    }
  }

  /** kubelet's command line and what its `$VARIABLES` come from: Environment= values and EnvironmentFile= contents. */
  private async commandLineTexts(unit: Awaited<ReturnType<typeof loadUnit>>, execStart: string): Promise<string[]> {
    const texts = [execStart];
    for (const source of [...(unit.fragment ? [unit.fragment] : []), ...unit.dropIns]) {
      for (const e of parseUnit(source.text)) {
        if (e.section !== 'Service') continue;
        if (e.key === 'Environment') texts.push(e.value);
        if (e.key === 'EnvironmentFile') {
          const text = await this.host.read(e.value.replace(/^-/, ''));
          if (text !== undefined) texts.push(text);
        }
      }
    }
    return texts;
  }

  private async waitHealthy(systemd: Systemd, before: UnitState): Promise<boolean> {
    const deadline = Date.now() + this.opts.healthzTimeoutMs;
    const started = await waitFor(async () => {
      const now = await systemd.state(KUBELET_UNIT);
      return now.invocationId !== before.invocationId && now.activeState === 'active';
    }, this.opts.healthzTimeoutMs);
    if (!started) return false;
    return waitFor(() => healthzOk(this.opts.healthzUrl), Math.max(0, deadline - Date.now()));
  }

  private async sha(hostPath: string): Promise<string | undefined> {
    try {
      return sha(await readFile(this.host.path(hostPath)));
    } catch {
      return undefined;
    }
  }
}

function sha(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function providerDropIn(execStart: string, config: string, binDir: string): string {
  return `# Written by imagegate credential-provider install. It lives under /run, so a reboot removes it;
# \`imagegate credential-provider uninstall\` removes it too. Later flags win in kubelet.
[Service]
Environment="IMAGEGATE_CREDENTIAL_PROVIDER_ARGS=--image-credential-provider-config=${config} --image-credential-provider-bin-dir=${binDir}"
ExecStart=
ExecStart=${execStart} $IMAGEGATE_CREDENTIAL_PROVIDER_ARGS
`;
}
