import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');
const MAIN = join(ROOT, 'bin', 'main.ts');
/** The compiled CLI, as the image runs it. */
const COMPILED_MAIN = join(ROOT, 'dist', 'bin', 'main.js');
/** Environment every run starts from: PATH and HOME only, so no stray setting leaks in. */
const BASE_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' };

/** Runs `imagegate outbound-proxy <args>` with only the given environment, to completion (bounded by `timeoutMs`). */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', MAIN, 'outbound-proxy', ...args], {
      cwd: ROOT,
      env: { ...BASE_ENV, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stderr });
    });
  });
}

let built = false;

/** Compiles the sources (`npm run build`) once per test run, so that the compiled CLI is the code under test. */
export function buildCli(): void {
  if (built) return;
  const out = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
  if (out.status !== 0) throw new Error(`npm run build failed (${out.status ?? out.signal}):\n${(out.stdout + out.stderr).slice(-2000)}`);
  built = true;
}

/** How the CLI runs: from the TypeScript sources under tsx, or compiled (call buildCli first) as in production. */
export type CliEntry = 'source' | 'compiled';

/**
 * The real CLI (`node --require tsx/cjs bin/main.ts outbound-proxy`, or the
 * compiled `node dist/bin/main.js outbound-proxy`) as a child
 * process, so that its memory can be read from /proc. It listens on ephemeral
 * loopback ports, read back from its start-up log line.
 */
export class ProxyProcess {
  readonly lines: string[] = [];

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly metricsPort: number | undefined,
  ) {}

  static async start(env: Record<string, string>, args: string[] = [], timeoutMs = 30_000, nodeFlags: string[] = [], entry: CliEntry = 'source'): Promise<ProxyProcess> {
    const main = entry === 'compiled' ? [COMPILED_MAIN] : ['--require', 'tsx/cjs', MAIN];
    const child = spawn(process.execPath, [...nodeFlags, ...main, 'outbound-proxy', ...args], {
      cwd: ROOT,
      env: { ...BASE_ENV, LISTEN_ADDR: '127.0.0.1:0', METRICS_LISTEN_ADDR: '127.0.0.1:0', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const lines: string[] = [];
    const ready = new Promise<{ listen: string; metrics: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`proxy did not start within ${timeoutMs} ms:\n${lines.join('\n')}`)), timeoutMs);
      let buffered = '';
      child.stderr!.setEncoding('utf8').on('data', (text: string) => {
        buffered += text;
        const parts = buffered.split('\n');
        buffered = parts.pop() ?? '';
        for (const line of parts) {
          lines.push(line);
          if (line.includes('outbound proxy listening')) {
            clearTimeout(timer);
            resolve(JSON.parse(line) as { listen: string; metrics: string });
          }
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`proxy exited with ${code} before listening:\n${lines.join('\n')}${buffered}`));
      });
    });
    const started = await ready;
    const port = (s: string) => Number(s.slice(s.lastIndexOf(':') + 1));
    const proxy = new ProxyProcess(child, port(started.listen), started.metrics === 'disabled' ? undefined : port(started.metrics));
    proxy.lines.push(...lines);
    child.stderr!.on('data', (text: string) => proxy.lines.push(...text.split('\n').filter(Boolean)));
    return proxy;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resident set size in bytes, from /proc/<pid>/status (VmRSS). */
  rss(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status);
    if (!kb) throw new Error(`no VmRSS in /proc/${this.pid}/status`);
    return Number(kb[1]) * 1024;
  }

  /** Sends `signal` and resolves with the exit code; kills it if it has not exited after `timeoutMs`. */
  stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<number | null> {
    if (this.child.exitCode !== null) return Promise.resolve(this.child.exitCode);
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
      this.child.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
      this.child.kill(signal);
    });
  }
}
