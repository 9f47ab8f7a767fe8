import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildExecutable } from '../../src/credential-provider/build';
import type { ProviderEntry } from '../../hostpatch/provider-config';

const ROOT = resolve(__dirname, '../..');
/** Where the tests build the self-contained executable (once per run, again when a source changed). */
export const EXECUTABLE = join(ROOT, '.ci/work/credential-provider/imagegate-credential-provider');

function newestSource(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    newest = Math.max(newest, s.isDirectory() ? newestSource(p) : s.mtimeMs);
  }
  return newest;
}

let built: Promise<string> | undefined;

/** The executable, built by src/credential-provider/build.ts when missing or older than src/ or package-lock.json. */
export function pluginExecutable(): Promise<string> {
  built ??= (async () => {
    const stale = !existsSync(EXECUTABLE) || statSync(EXECUTABLE).mtimeMs < Math.max(newestSource(join(ROOT, 'src')), statSync(join(ROOT, 'package-lock.json')).mtimeMs);
    if (stale) await buildExecutable(EXECUTABLE);
    return EXECUTABLE;
  })();
  return built;
}

/** One provider entry of kubelet's CredentialProviderConfig (kubelet.config.k8s.io/v1), as the installer writes it. */
export type { ProviderEntry };

export interface PluginRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs the plugin as kubelet's exec plugin runner does: a fresh process of
 * `<binDir>/<name>` with the entry's args, kubelet's environment plus the
 * entry's env, the request as JSON on stdin (then closed), stdout and stderr
 * collected, killed when the timeout (kubelet: 1 minute) passes.
 */
export async function execAsKubelet(
  entry: ProviderEntry,
  request: unknown,
  options: { executable?: string; timeoutMs?: number; kubeletEnv?: NodeJS.ProcessEnv } = {},
): Promise<PluginRun> {
  const executable = options.executable ?? (await pluginExecutable());
  const env: NodeJS.ProcessEnv = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', ...options.kubeletEnv };
  for (const e of entry.env ?? []) env[e.name] = e.value;
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(executable, entry.args ?? [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ms: performance.now() - started });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(typeof request === 'string' ? request : JSON.stringify(request));
  });
}
