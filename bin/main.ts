import { runCli } from '../src/cli/main';
import { commands } from './commands';

/** Entry point of the `imagegate` executable (bin/imagegate, the image's /usr/local/bin/imagegate). */
export function main(argv: string[]): Promise<void> {
  return runCli(argv, commands);
}

if (require.main === module) void main(process.argv.slice(2));
