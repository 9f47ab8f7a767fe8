import type { FlagTable } from '../config/load';

/**
 * One `imagegate <name>` subcommand. `run` gets the arguments after the name
 * and resolves with the exit code once the command is done — for a server,
 * after it has shut down. A ConfigError thrown from `run` becomes one line on
 * stderr and exit code 2; any other error exit code 1.
 */
export interface Command {
  name: string;
  /** One line for `imagegate help`. */
  summary: string;
  /** The flags `run` reads (the table its `--help` is made from); absent for a command that takes none. */
  readonly flags?: FlagTable;
  /** Actions named by the first argument (`hostpatch apply`), each listed by `--help`. */
  readonly subcommands?: readonly Subcommand[];
  run(argv: string[]): Promise<number>;
}

/** One action of a command, e.g. `apply` of `imagegate hostpatch`. */
export interface Subcommand {
  name: string;
  /** One line for `--help`. */
  summary: string;
  /** Its flags, when they differ from the command's own. */
  readonly flags?: FlagTable;
}

/** The `subcommands:` block of a command's `--help`. */
export function subcommandsHelp(command: string, subcommands: readonly Subcommand[]): string {
  const width = Math.max(...subcommands.map((s) => s.name.length)) + 2;
  return [
    'subcommands:',
    ...subcommands.map((s) => `  ${s.name.padEnd(width)}${s.summary}`),
    '',
    `(imagegate ${command} <subcommand> --help for its flags)`,
  ].join('\n');
}
