import { ConfigError } from '../config/errors';
import { logProcessWarnings } from '../log/process-warnings';
import { commands } from './commands';
import { VERSION } from './version';

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    'usage: imagegate <command> [flags]   (imagegate <command> --help for its flags)',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    '  --version' + ' '.repeat(Math.max(1, width - 7)) + 'print the version',
  ].join('\n');
}

/** Entry point of the `imagegate` executable. */
export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === 'version') {
    process.stdout.write(`imagegate ${VERSION}\n`);
    return;
  }
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage() + '\n');
    process.exitCode = name === undefined ? 2 : 0;
    return;
  }
  logProcessWarnings();
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`imagegate: unknown command "${name}"; run "imagegate help"\n`);
    process.exitCode = 2;
    return;
  }
  try {
    process.exitCode = await command.run(rest);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`imagegate: ${err.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`imagegate: ${(err as Error).message ?? String(err)}\n`);
      process.exitCode = 1;
    }
  }
}

if (require.main === module) void main(process.argv.slice(2));
