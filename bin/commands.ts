import type { Command } from '../src/cli/command';
import { lazy } from '../src/cli/lazy';
import type { ProviderAction } from '../src/credential-provider/command';

/**
 * Every subcommand of `imagegate`, registered explicitly here and nowhere
 * else. This is the edge that knows both trees: `src/` (the parts) and
 * `hostpatch/` (the node patcher, which builds on `src/`); `src/` never
 * imports `hostpatch/`.
 */
export const commands: Command[] = [
  lazy('serve', () => (require('../src/cli/serve') as typeof import('../src/cli/serve')).serveCommand),
  lazy('image-service', () => (require('../src/cri/command') as typeof import('../src/cri/command')).imageServiceCommand),
  lazy('images', () => (require('../src/cri/client/commands') as typeof import('../src/cri/client/commands')).imagesCommand),
  lazy('pull', () => (require('../src/cri/client/commands') as typeof import('../src/cri/client/commands')).pullCommand),
  lazy('inspecti', () => (require('../src/cri/client/commands') as typeof import('../src/cri/client/commands')).inspectiCommand),
  lazy('rmi', () => (require('../src/cri/client/commands') as typeof import('../src/cri/client/commands')).rmiCommand),
  lazy('imagefsinfo', () => (require('../src/cri/client/commands') as typeof import('../src/cri/client/commands')).imagefsinfoCommand),
  lazy('hostpatch', () => (require('../hostpatch/command') as typeof import('../hostpatch/command')).hostpatchCommand),
  lazy('outbound-proxy', () => (require('../src/outbound/command') as typeof import('../src/outbound/command')).outboundProxyCommand),
  lazy('registry', () => (require('../src/registry/command') as typeof import('../src/registry/command')).registryCommand),
  lazy('credential-provider', () =>
    (require('../src/credential-provider/command') as typeof import('../src/credential-provider/command')).credentialProviderCommand([
      providerInstall('install', "put the plugin on this node and add its entry to kubelet's credential provider config (fail-open, rolled back if kubelet breaks)"),
      providerInstall('uninstall', "take the plugin's entry out of kubelet's config and remove the plugin"),
    ]),
  ),
];

/** `credential-provider install | uninstall`: node changes, so they live in hostpatch/ and are added here. */
function providerInstall(name: 'install' | 'uninstall', summary: string): ProviderAction {
  const load = () => require('../hostpatch/provider-install-command') as typeof import('../hostpatch/provider-install-command');
  return {
    name,
    summary,
    get flags() {
      return load().installFlags;
    },
    run: (argv) => load().runInstall(name, argv),
  };
}
