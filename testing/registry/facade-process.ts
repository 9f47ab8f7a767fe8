import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';

const ROOT = resolve(__dirname, '../..');

/** A facade running as its own process (`imagegate registry --config`), as in production. */
export interface FacadeProcess {
  url: string;
  /** `http://host:port` of its metrics/health listener. */
  metricsUrl: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Writes `registry` (the section, as an object) to `<dir>/<name>.yml`, starts
 * `imagegate registry` on it and waits for its "listening" line (both
 * listeners on ephemeral loopback ports unless the config says otherwise).
 */
export async function startFacadeProcess(dir: string, name: string, registry: Record<string, unknown>): Promise<FacadeProcess> {
  const file = join(dir, `${name}.yml`);
  writeFileSync(file, stringify({ registry: { listen: '127.0.0.1:0', metricsListen: '127.0.0.1:0', ...registry }, log: { level: 'info' } }));
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'bin/main.ts', 'registry', '--config', file], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, IMAGEGATE_LOG_LEVEL: 'info' } });
  let stderr = '';
  const listening = await new Promise<{ url: string; metrics: string }>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`facade did not start: ${stderr}`)), 60_000);
    child.stderr!.on('data', (c: Buffer) => {
      stderr += String(c);
      for (const line of stderr.split('\n')) {
        if (!line.includes('registry facade listening')) continue;
        clearTimeout(timer);
        const entry = JSON.parse(line) as { url: string; metrics: string };
        done(entry);
        return;
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`facade exited with ${code}: ${stderr}`));
    });
  });
  child.stderr!.resume();
  return {
    url: listening.url,
    metricsUrl: `http://${listening.metrics}`,
    child,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
