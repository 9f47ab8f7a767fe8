import { z } from 'zod';
import { untilSignal } from '../src/cli/lifecycle';
import { ConfigError } from '../src/config/errors';
import { commonFlags } from '../src/config/common-flags';
import { loadConfig, type Binding, type FlagTable } from '../src/config/load';
import { DEFAULT_AGENT_SOCKET } from '../src/credential-provider/args';
import { DEFAULT_ROLE_ANNOTATIONS } from '../src/credential-provider/settings';
import { createLogger, logLevelSetting } from '../src/log/logger';
import { RefusalError, RolledBackError } from './errors';
import { type Container, KubeApi } from './kube-api';
import { nodeBindings, nodeSettings } from './node-settings';
import type { ProviderEntry } from './provider-config';
import { PROVIDER_OWNED, ProviderInstaller } from './provider-install';
import { successorExpected } from './successor';

const GO_DURATION = /^(\d+h)?(\d+m)?(\d+s)?$/;

const schema = z.object({
  ...nodeSettings,
  /** The self-contained executable to copy onto the host. Default /app/credential-provider/imagegate-credential-provider (the image's). */
  executable: z.string().startsWith('/', 'must be an absolute path').default('/app/credential-provider/imagegate-credential-provider'),
  /** The provider's name in kubelet's config and the executable's name in its bin dir. Default imagegate-credential-provider. */
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be a file name of lowercase letters, digits, ., _ and -').default('imagegate-credential-provider'),
  /** Images kubelet asks the plugin about (kubelet's matchImages syntax). Required. */
  matchImages: z.array(z.string().min(1)).default([]),
  /** kubelet's cache duration when a response has none (Go duration). Default 1m. */
  defaultCacheDuration: z.string().regex(GO_DURATION, 'must be a duration such as 1m or 12h').default('1m'),
  /** The provider entry's args. Default --agent-socket /run/imagegate/credential-provider.sock. */
  providerArgs: z.array(z.string()).default(['--agent-socket', DEFAULT_AGENT_SOCKET]),
  /** The plugin's settings (a YAML file in this container) to put on the host; the entry then gets `--config` for it. Default none. */
  pluginConfig: z.string().startsWith('/', 'must be an absolute path').optional(),
  /** KEP-4412: ask kubelet for the pod's service-account token with this audience (kubelet needs RBAC request-serviceaccounts-token-audience on it). Default: no token. */
  tokenAudience: z.string().min(1).optional(),
  /** Entries of the node's config to leave out (e.g. ecr-credential-provider). Default none: they stay. */
  replace: z.array(z.string().min(1)).default([]),
  /** kubelet's bin dir when it has none configured (host path, on an exec-able filesystem). Default /opt/imagegate/bin. */
  binDir: z.string().startsWith('/', 'must be an absolute host path').default('/opt/imagegate/bin'),
  /**
   * install: stay running and uninstall on SIGTERM (the DaemonSet's cleanup
   * path) — unless, in a cluster, the pod's DaemonSet will put a pod that
   * installs the plugin back on this node (a rolling update): then the entry
   * is left for it to adopt, and the upgrade restarts kubelet at most once.
   */
  uninstallOnExit: z.boolean().default(false),
  /** With --uninstall-on-exit: this pod's DaemonSet, in the service account's namespace. */
  daemonset: z.string().min(1).default('imagegate'),
  logLevel: logLevelSetting(),
});

const bindings: Binding[] = [
  ...nodeBindings,
  { flag: 'executable', env: 'IMAGEGATE_CREDENTIAL_PROVIDER_EXECUTABLE', path: 'executable', help: 'the executable to install' },
  { flag: 'provider-name', path: 'name', help: 'provider name' },
  { flag: 'match-image', env: 'IMAGEGATE_MATCH_IMAGES', path: 'matchImages', type: 'list', help: 'kubelet matchImages entry; repeat or comma-separate (required)' },
  { flag: 'default-cache-duration', path: 'defaultCacheDuration', help: 'kubelet defaultCacheDuration' },
  { flag: 'provider-arg', path: 'providerArgs', type: 'list', help: 'an arg of the provider entry; repeat' },
  { flag: 'plugin-config', env: 'IMAGEGATE_PLUGIN_CONFIG', path: 'pluginConfig', help: "the plugin's settings file to install on the host (rules for minting without the agent)" },
  { flag: 'token-audience', env: 'IMAGEGATE_TOKEN_AUDIENCE', path: 'tokenAudience', help: "pass the pod's service-account token for this audience (KEP-4412)" },
  { flag: 'replace', path: 'replace', type: 'list', help: "drop this entry of the node's config (unset: keep all)" },
  { flag: 'bin-dir', env: 'IMAGEGATE_BIN_DIR', path: 'binDir', help: 'bin dir when kubelet has none' },
  { flag: 'uninstall-on-exit', path: 'uninstallOnExit', type: 'boolean', help: "install, then uninstall on SIGTERM (left for the next pod when this pod's DaemonSet still installs it)" },
  { flag: 'daemonset', env: 'IMAGEGATE_DAEMONSET', path: 'daemonset', help: "with --uninstall-on-exit: this pod's DaemonSet, in the service account's namespace" },
  commonFlags.logLevel('logLevel'),
];

/** What `imagegate credential-provider install | uninstall` reads. */
export const installFlags: FlagTable<typeof schema> = { schema, bindings, configEnv: '' };

const EXIT = { ok: 0, refused: 3, rolledBack: 4 };

/** A container that runs this installer (the successor does the same job). */
const installsPlugin = (c: Container) => c.args?.[0] === 'credential-provider' && c.args?.[1] === 'install';

/**
 * `imagegate credential-provider install | uninstall`: puts the plugin on this
 * node and adds one entry to kubelet's credential provider config, with the
 * host patcher's fail-open guarantees (README, credential provider). Exit
 * codes: 0 done, 1 error, 2 bad setting, 3 refused (nothing changed), 4 rolled back.
 */
export async function runInstall(action: 'install' | 'uninstall', argv: string[]): Promise<number> {
  const loaded = loadConfig({ command: `credential-provider ${action}`, schema, bindings, argv, configEnv: '' });
  if (loaded.helpRequested) {
    process.stdout.write(loaded.help + '\n');
    return 0;
  }
  const c = loaded.config;
  if (action === 'install' && c.matchImages.length === 0) throw new ConfigError('--match-image', 'required: the images kubelet should ask the plugin about (kubelet matchImages); repeat or comma-separate');
  const log = createLogger({ level: c.logLevel, defaultMeta: { component: 'credential-provider-install' } });
  const entry: ProviderEntry = {
    name: c.name, matchImages: c.matchImages, defaultCacheDuration: c.defaultCacheDuration, apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
    ...(c.providerArgs.length > 0 || c.pluginConfig ? { args: [...(c.pluginConfig ? [`--config=${PROVIDER_OWNED.pluginConfig}`] : []), ...c.providerArgs] } : {}),
    ...(c.tokenAudience
      ? { tokenAttributes: { serviceAccountTokenAudience: c.tokenAudience, requireServiceAccount: false, optionalServiceAccountAnnotationKeys: DEFAULT_ROLE_ANNOTATIONS, cacheType: 'ServiceAccount' as const } }
      : {}),
  };
  const installer = new ProviderInstaller({
    hostRoot: c.hostRoot, executable: c.executable, entry, replace: c.replace, defaultBinDir: c.binDir, pluginConfig: c.pluginConfig,
    healthzUrl: c.healthzUrl, healthzTimeoutMs: c.healthzTimeout, log,
  });
  try {
    if (action === 'uninstall') {
      process.stdout.write(`${await installer.uninstall()}\n`);
      return EXIT.ok;
    }
    const stop = c.uninstallOnExit ? untilSignal({ keepAlive: true }) : undefined;
    process.stdout.write(`${await installer.install()}\n`);
    if (stop) {
      await stop;
      if (await successorExpected(KubeApi.inCluster(), c.daemonset, installsPlugin, log)) {
        log.info('leaving the provider entry for the next pod of the DaemonSet', { daemonSet: c.daemonset });
        process.stdout.write('handed over\n');
      } else {
        process.stdout.write(`${await installer.uninstall()}\n`);
      }
    }
    return EXIT.ok;
  } catch (err) {
    if (err instanceof RefusalError) {
      process.stderr.write(`imagegate credential-provider ${action}: refused: ${err.message}\n`);
      return EXIT.refused;
    }
    if (err instanceof RolledBackError) {
      process.stderr.write(`imagegate credential-provider ${action}: ${err.message}\n`);
      return EXIT.rolledBack;
    }
    throw err;
  }
}
