import { subcommandsHelp, type Command, type Subcommand } from '../cli/command';
import type { FlagTable } from '../config/load';
import { runPlugin } from './plugin';

/** A subcommand of `imagegate credential-provider` that runs on its own (`install`, given by the CLI's edge). */
export interface ProviderAction extends Subcommand {
  run(argv: string[]): Promise<number>;
}

/** The plugin's flag table, loaded (with zod) only when asked for: the plugin's fast path never needs it. */
const pluginFlags = (): FlagTable => (require('./settings') as typeof import('./settings')).pluginFlags;

const serve: ProviderAction = {
  name: 'serve',
  summary: 'run the node agent alone on its socket (the image service serves it too, given a credentialProvider: section)',
  get flags() {
    return pluginFlags();
  },
  run: (argv) => (require('./serve') as typeof import('./serve')).serveAgent(argv),
};

/**
 * `imagegate credential-provider`: kubelet's image credential provider plugin
 * (README, credential provider). `imagegate credential-provider serve` runs
 * the node agent alone (the image service serves it too, given a
 * `credentialProvider:` section). `actions` are further subcommands the CLI's
 * edge adds (the host patcher's `install` and `uninstall`, which src/ does
 * not import).
 */
export function credentialProviderCommand(actions: readonly ProviderAction[] = []): Command {
  const subcommands = [serve, ...actions];
  return {
    name: 'credential-provider',
    summary: 'kubelet image credential provider plugin: a CredentialProviderRequest on stdin, the response on stdout',
    get flags() {
      return pluginFlags();
    },
    subcommands,
    async run(argv) {
      const action = subcommands.find((s) => s.name === argv[0]);
      if (action) return action.run(argv.slice(1));
      const help = argv.includes('--help') || argv.includes('-h');
      return runPlugin(argv, {
        stdin: process.stdin,
        stdout: (t) => process.stdout.write(help ? `${t}\n${subcommandsHelp('credential-provider', subcommands)}\n` : t),
        stderr: (t) => process.stderr.write(t),
        env: process.env,
      });
    },
  };
}
