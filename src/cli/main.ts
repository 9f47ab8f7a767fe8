import { ConfigError } from '../config/errors';
import { logProcessWarnings } from '../log/process-warnings';
import type { Command } from './command';
import { VERSION } from './version';

/** `imagegate --help`: every command with its summary, and beneath it each of its subcommands. */
export function usage(commands: readonly Command[]): string {
  const rows: [string, string][] = [];
  for (const c of commands) {
    rows.push([c.name, c.summary]);
    for (const s of c.subcommands ?? []) rows.push([`${c.name} ${s.name}`, s.summary]);
  }
  rows.push(['help', 'print this list (also --help, -h)'], ['version', 'print the version (also --version)']);
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  return [
    'usage: imagegate <command> [flags]   (imagegate <command> --help for its flags)',
    '',
    ...rows.map(([name, summary]) => `  ${name.padEnd(width)}${summary}`),
  ].join('\n');
}

/**
 * Runs the `imagegate` executable on `argv` with the given commands (the
 * list is assembled at the edge, in bin/commands.ts, so that src/ knows no
 * command outside it).
 */
export async function runCli(argv: string[], commands: readonly Command[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === 'version') {
    process.stdout.write(`imagegate ${VERSION}\n`);
    return;
  }
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage(commands) + '\n');
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
