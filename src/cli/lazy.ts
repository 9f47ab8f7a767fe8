import type { Command } from './command';

/**
 * A command whose module is loaded only when it runs (or when help lists its
 * summary), so that one subcommand's process does not carry every other
 * subcommand's dependencies (gRPC, Docker, Express, the AWS SDK…).
 */
export function lazy(name: string, load: () => Command): Command {
  return {
    name,
    get summary() {
      return load().summary;
    },
    get flags() {
      return load().flags;
    },
    get subcommands() {
      return load().subcommands;
    },
    run: (argv) => load().run(argv),
  };
}
