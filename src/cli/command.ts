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
  run(argv: string[]): Promise<number>;
}
