import { imageServiceCommand } from '../cri/command';
import { registryCommand } from '../registry/command';
import type { Command } from './command';

/**
 * `imagegate serve`: the main job on the embedded default configuration — the
 * image service on /run/imagegate/imagegate.sock (Docker Engine backend,
 * kubelet's own credentials) and the registry facade on :5050 (Docker Hub
 * under `hub/`, a demo user). Each part still reads its IMAGEGATE_* variables.
 * If either part fails to start, the other is stopped and the error reported.
 */
export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the image service and the registry facade together on the embedded default configuration',
  async run(argv) {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write('usage: imagegate serve\n\nRuns `imagegate image-service` and `imagegate registry` with their embedded defaults.\n');
      return 0;
    }
    if (argv.length > 0) {
      process.stderr.write(`imagegate: ${argv[0]}: serve takes no arguments; configure the parts with IMAGEGATE_* variables or run them separately\n`);
      return 2;
    }
    const parts = [imageServiceCommand, registryCommand].map((command) =>
      command.run([]).catch((err: unknown) => {
        process.kill(process.pid, 'SIGTERM');
        throw err;
      }),
    );
    const codes = await Promise.all(parts);
    return Math.max(...codes);
  },
};
