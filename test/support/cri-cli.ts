/**
 * Runs the real `imagegate` CLI (bin/main.ts through tsx) as a child
 * process, for tests of start-up, signals, exit codes and the client commands.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '../..');

export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (a signal counts as 128+n). */
  exited: Promise<number>;
}

/** Starts `imagegate <args>`; the environment is the test's plus `env`. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', 'bin/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, IMAGEGATE_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15))));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Runs `imagegate <args>` to the end (at most `timeoutMs`, then it is killed). */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const running = startCli(args, env);
  const timer = setTimeout(() => running.child.kill('SIGKILL'), timeoutMs);
  const code = await running.exited;
  clearTimeout(timer);
  return { code, stdout: running.stdout(), stderr: running.stderr() };
}

/** Waits until `check` holds, polling every 50 ms, failing after `timeoutMs`. */
export async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits for a server started with startCli to create its socket (or to exit early, which fails). */
export async function waitForSocket(running: Running, path: string, timeoutMs = 30_000): Promise<void> {
  let exited: number | undefined;
  void running.exited.then((code) => (exited = code));
  await waitUntil(() => existsSync(path) || exited !== undefined, timeoutMs, `the socket ${path}`);
  if (exited !== undefined) throw new Error(`imagegate exited with ${exited}: ${running.stderr()}`);
}
