import type { Command } from './command';

/**
 * A command whose module is loaded only when it runs (or when help lists its
 * summary), so that one subcommand's process does not carry every other
 * subcommand's dependencies (gRPC, Docker, Express, the AWS SDK…).
 */
function lazy(name: string, load: () => Command): Command {
  return {
    name,
    get summary() {
      return load().summary;
    },
    run: (argv) => load().run(argv),
  };
}

/** Every subcommand, registered explicitly here and nowhere else. */
export const commands: Command[] = [
  lazy('serve', () => (require('./serve') as typeof import('./serve')).serveCommand),
  lazy('image-service', () => (require('../cri/command') as typeof import('../cri/command')).imageServiceCommand),
  lazy('images', () => (require('../cri/client/commands') as typeof import('../cri/client/commands')).imagesCommand),
  lazy('pull', () => (require('../cri/client/commands') as typeof import('../cri/client/commands')).pullCommand),
  lazy('inspecti', () => (require('../cri/client/commands') as typeof import('../cri/client/commands')).inspectiCommand),
  lazy('rmi', () => (require('../cri/client/commands') as typeof import('../cri/client/commands')).rmiCommand),
  lazy('imagefsinfo', () => (require('../cri/client/commands') as typeof import('../cri/client/commands')).imagefsinfoCommand),
  lazy('hostpatch', () => (require('../../hostpatch/command') as typeof import('../../hostpatch/command')).hostpatchCommand),
  lazy('outbound-proxy', () => (require('../outbound/command') as typeof import('../outbound/command')).outboundProxyCommand),
  lazy('registry', () => (require('../registry/command') as typeof import('../registry/command')).registryCommand),
  lazy('credential-provider', () => (require('../credential-provider/command') as typeof import('../credential-provider/command')).credentialProviderCommand),
];
