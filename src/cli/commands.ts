import { hostpatchCommand } from '../../hostpatch/command';
import { outboundProxyCommand } from '../outbound/command';
import { registryCommand } from '../registry/command';
import { imageServiceCommand } from '../cri/command';
import type { Command } from './command';

/** Every subcommand, registered explicitly here and nowhere else. */
export const commands: Command[] = [
  imageServiceCommand,
  hostpatchCommand,
  outboundProxyCommand,
  registryCommand,
];
