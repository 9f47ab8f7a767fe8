import { hostpatchCommand } from '../../hostpatch/command';
import { outboundProxyCommand } from '../outbound/command';
import { registryCommand } from '../registry/command';
import { imageServiceCommand } from '../cri/command';
import type { Command } from './command';
import { serveCommand } from './serve';

/** Every subcommand, registered explicitly here and nowhere else. */
export const commands: Command[] = [
  serveCommand,
  imageServiceCommand,
  hostpatchCommand,
  outboundProxyCommand,
  registryCommand,
];
