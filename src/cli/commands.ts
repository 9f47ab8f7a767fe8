import { outboundProxyCommand } from '../outbound/command';
import type { Command } from './command';

/** Every subcommand, registered explicitly here and nowhere else. */
export const commands: Command[] = [
  outboundProxyCommand,
];
