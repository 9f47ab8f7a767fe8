import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { freePort } from '../../../testing/registry/fleet';

/** The shared Redis that .ci/services/65-redis.sh starts (never stopped by a test). */
export const sharedRedis = { host: '127.0.0.1', port: 6390, url: 'redis://127.0.0.1:6390' } as const;

/** A Redis server of our own (Debian redis-server) on a free loopback port, which a test may stop. */
export interface OwnRedis {
  port: number;
  url: string;
  stop(): Promise<void>;
}

/** Starts `redis-server` in the foreground as our child (no persistence); fails when it is not installed. */
export async function startOwnRedis(port?: number): Promise<OwnRedis> {
  const p = port ?? (await freePort());
  const child: ChildProcess = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(p), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new Error(`redis-server could not start (is Debian redis-server installed? .ci/packages.txt lists it): ${err.message}`)));
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
  });
  failed.catch(() => undefined);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await Promise.race([answers(p), failed]);
    if (up) break;
    if (Date.now() > deadline) throw new Error(`redis-server did not answer on 127.0.0.1:${p}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** True when a Redis answers PING on 127.0.0.1:port. */
export function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(String(d).startsWith('+PONG')));
  });
}
