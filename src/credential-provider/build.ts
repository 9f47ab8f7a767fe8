/**
 * Builds the self-contained `imagegate-credential-provider` executable:
 * esbuild bundles src/credential-provider/main.ts with its dependencies into
 * one CommonJS script, Node's single executable application support turns it
 * into a blob (with V8's code cache, so start-up skips compiling), and
 * postject injects the blob into a copy of the running Node binary. The
 * result needs no Node.js on the host: only the C library and libstdc++ the
 * Node binary itself links against.
 *
 *   npm run build:credential-provider [-- <output path>]   (default dist/credential-provider/imagegate-credential-provider)
 *   node dist/src/credential-provider/build.js <output path>   (after `npm run build`; the Dockerfile)
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
/** The repository: two levels up from src/credential-provider, three from dist/src/credential-provider (the image build). */
const ROOT = [resolve(__dirname, '../..'), resolve(__dirname, '../../..')].find((d) => existsSync(join(d, 'src/credential-provider/main.ts'))) ?? resolve(__dirname, '../..');

export interface BuildResult {
  executable: string;
  bundleBytes: number;
}

/** Builds the executable at `output` with the Node binary that runs this script. */
export async function buildExecutable(output = join(ROOT, 'dist/credential-provider/imagegate-credential-provider')): Promise<BuildResult> {
  const work = join(dirname(output), '.sea-work');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const esbuild = await import('esbuild');
  const bundle = join(work, 'main.cjs');
  await esbuild.build({
    entryPoints: [join(ROOT, 'src/credential-provider/main.ts')],
    bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile: bundle,
    minifySyntax: true, minifyWhitespace: true, legalComments: 'none', logLevel: 'error',
    define: { BUILD_VERSION: JSON.stringify(version) },
  });
  const blob = join(work, 'sea.blob');
  const config = join(work, 'sea-config.json');
  writeFileSync(config, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }));
  execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  const temporary = `${output}.tmp`;
  copyFileSync(process.execPath, temporary);
  chmodSync(temporary, 0o755);
  const { inject } = require('postject') as { inject: (file: string, name: string, data: Buffer, opts: { sentinelFuse: string }) => Promise<void> };
  await withoutLeakedHandlers(() => inject(temporary, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SENTINEL_FUSE }));
  execFileSync('mv', ['-f', temporary, output]);
  const bundleBytes = readFileSync(bundle).length;
  rmSync(work, { recursive: true, force: true });
  return { executable: output, bundleBytes };
}

/**
 * Runs `work` and then removes the process-wide `uncaughtException` and
 * `unhandledRejection` listeners it added: postject's emscripten module adds
 * two that rethrow every error, which would turn any later uncaught error in
 * the host process (a test run, the image build) into a crash that bypasses
 * the host's own handling.
 */
async function withoutLeakedHandlers<T>(work: () => Promise<T>): Promise<T> {
  const events = ['uncaughtException', 'unhandledRejection'] as const;
  const emitter = process as NodeJS.EventEmitter;
  const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]));
  try {
    return await work();
  } finally {
    for (const event of events) {
      for (const listener of emitter.listeners(event)) if (!before.get(event)!.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
}

if (require.main === module) {
  buildExecutable(process.argv[2] ? resolve(process.argv[2]) : undefined).then(
    (r) => process.stdout.write(`${r.executable} (bundle ${(r.bundleBytes / 1024).toFixed(0)} KiB)\n`),
    (err: Error) => {
      process.stderr.write(`build:credential-provider: ${err.message}\n`);
      process.exit(1);
    },
  );
}
