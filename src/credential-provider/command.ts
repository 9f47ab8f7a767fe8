import type { Command } from '../cli/command';
import { runPlugin } from './plugin';

/**
 * `imagegate credential-provider`: kubelet's image credential provider plugin
 * (README, credential provider). `imagegate credential-provider serve` runs
 * the node agent alone (the image service serves it too, given a
 * `credentialProvider:` section).
 */
export const credentialProviderCommand: Command = {
  name: 'credential-provider',
  summary: "kubelet image credential provider plugin: a CredentialProviderRequest on stdin, the response on stdout",
  async run(argv) {
    if (argv[0] === 'serve') return (require('./serve') as typeof import('./serve')).serveAgent(argv.slice(1));
    if (argv[0] === 'install' || argv[0] === 'uninstall') return (require('./install-command') as typeof import('./install-command')).runInstall(argv[0], argv.slice(1));
    return runPlugin(argv, {
      stdin: process.stdin,
      stdout: (t) => process.stdout.write(t),
      stderr: (t) => process.stderr.write(t),
      env: process.env,
    });
  },
};
