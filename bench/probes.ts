/**
 * `npm run bench:probes`: what one DaemonSet probe costs the node, the old way
 * (an exec probe, `imagegate hostpatch probe`: a whole Node process asking
 * ImageFsInfo over the socket) against the new way (an HTTP GET of the
 * running image service's /readyz on loopback), on the compiled CLI as the
 * image runs it (`npm run build` first), Docker backend. Reports wall time,
 * CPU seconds and peak RSS per probe, and CPU seconds per node per hour at the
 * DaemonSet's periods (two probes every 10 s). Environment: BENCH_PROBE_EXECS
 * (default 20), BENCH_PROBE_GETS (default 2000).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { services } from '../testing/services';

const CLI = join(__dirname, '../dist/bin/main.js');
/** Clock ticks per second in /proc/<pid>/stat (USER_HZ). */
const TICKS = 100;
const PROBES_PER_HOUR = 2 * 360;

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** One exec probe under GNU time: wall s, CPU s (user + sys), max RSS MiB of the probe process. */
function execProbe(socket: string, dir: string): { wall: number; cpu: number; rssMiB: number } {
  const report = join(dir, 'time.txt');
  execFileSync('/usr/bin/time', ['-o', report, '-f', '%e %U %S %M', process.execPath, CLI, 'hostpatch', 'probe', '--socket', socket], { stdio: 'ignore' });
  const [wall, user, sys, rssKiB] = readFileSync(report, 'utf8').trim().split(/\s+/).map(Number);
  return { wall, cpu: user + sys, rssMiB: rssKiB / 1024 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error('run `npm run build` first: probes are measured on the compiled CLI, as the image runs it');
  const execs = Number(process.env.BENCH_PROBE_EXECS ?? 20);
  const gets = Number(process.env.BENCH_PROBE_GETS ?? 2000);
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-bench-probes-'));
  const socket = join(dir, 'imagegate.sock');
  const port = 19464;
  const service = spawn(process.execPath, [CLI, 'image-service', '--socket', socket, '--docker-host', `unix://${services.dockerSocket}`, '--metrics-listen', `127.0.0.1:${port}`, '--log-level', 'error'], { stdio: 'inherit' });
  try {
    for (let i = 0; i < 300 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1000));

    let serverBefore = cpuSeconds(service.pid!);
    const runs = Array.from({ length: execs }, () => execProbe(socket, dir));
    const serverPerExec = (cpuSeconds(service.pid!) - serverBefore) / execs;
    const exec = { wall: median(runs.map((r) => r.wall)), cpu: median(runs.map((r) => r.cpu)) + serverPerExec, rssMiB: median(runs.map((r) => r.rssMiB)) };

    serverBefore = cpuSeconds(service.pid!);
    const started = process.hrtime.bigint();
    for (let i = 0; i < gets; i++) if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status !== 200) throw new Error('/readyz did not answer 200');
    const http = { wall: Number(process.hrtime.bigint() - started) / 1e9 / gets, cpu: (cpuSeconds(service.pid!) - serverBefore) / gets };

    process.stdout.write(
      [
        '| probe | wall per probe | CPU per probe | RSS per probe | CPU per node per hour (2 probes / 10 s) |',
        '|---|---|---|---|---|',
        `| exec \`imagegate hostpatch probe\` (before) | ${exec.wall.toFixed(2)} s | ${exec.cpu.toFixed(3)} s | ${exec.rssMiB.toFixed(0)} MiB (a Node process) | ${(exec.cpu * PROBES_PER_HOUR).toFixed(0)} s |`,
        `| HTTP GET /readyz on loopback (now) | ${(http.wall * 1000).toFixed(2)} ms | ${http.cpu.toFixed(5)} s | none (no process) | ${(http.cpu * PROBES_PER_HOUR).toFixed(2)} s |`,
      ].join('\n') + '\n',
    );
  } finally {
    service.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`bench:probes failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
