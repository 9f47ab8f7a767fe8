/**
 * `npm run bench:idle`: each DaemonSet container's steady-state CPU and RSS
 * on an idle node, on the compiled CLI as the image runs it (`npm run build`
 * first). These figures set the DaemonSet's requests (README, install).
 *
 * - image-service: `node dist/bin/main.js image-service --config
 *   daemonset/components/eks/image-service.yaml --backend cri` against the CI
 *   containerd (the eks overlay's container, its ConfigMap included), with
 *   kubelet's probe (GET /healthz every 10 s) and kubelet's ImageFsInfo
 *   heartbeat (every 10 s) — what an idle node sends it.
 * - patcher: `node dist/bin/main.js hostpatch apply --watch` inside a
 *   systemd test node (testing/hostpatch/node.ts) after its patch is applied:
 *   ImageFsInfo check and heartbeat every 5 s, the readiness probe (GET
 *   /readyz every 10 s).
 *
 * CPU: utime + stime over the window, as millicores. RSS: VmRSS sampled
 * every 5 s (median and maximum) after a warm-up. Environment:
 * BENCH_IDLE_WARMUP_S (default 30), BENCH_IDLE_WINDOW_S (default 120).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { imageFsInfoAnswers } from '../hostpatch/probe';
import { HOSTPATCH_CLI, TestNode } from '../testing/hostpatch/node';
import { services } from '../testing/services';

const ROOT = resolve(__dirname, '..');
const CLI = join(ROOT, 'dist/bin/main.js');
const TICKS = 100;
const WARMUP_S = Number(process.env.BENCH_IDLE_WARMUP_S ?? 30);
const WINDOW_S = Number(process.env.BENCH_IDLE_WINDOW_S ?? 120);

interface Sample {
  cpuS: number;
  rssMiB: number;
}
/** utime + stime (s) and VmRSS (MiB) from /proc/<pid>/stat and status text. */
function parse(stat: string, status: string): Sample {
  const f = stat.split(') ')[1].split(' ');
  return { cpuS: (Number(f[11]) + Number(f[12])) / TICKS, rssMiB: Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Samples `read` every 5 s for the window while `tick` runs every 10 s (probes, heartbeats); returns millicores and RSS. */
async function measure(read: () => Promise<Sample>, tick: () => Promise<void>): Promise<{ millicores: number; rssMedianMiB: number; rssMaxMiB: number }> {
  const first = await read();
  const rss: number[] = [first.rssMiB];
  const started = Date.now();
  let last = first;
  for (let i = 1; Date.now() - started < WINDOW_S * 1000; i++) {
    if (i % 2 === 0) await tick();
    await sleep(5000 - ((Date.now() - started) % 5000));
    last = await read();
    rss.push(last.rssMiB);
  }
  const seconds = (Date.now() - started) / 1000;
  return { millicores: ((last.cpuS - first.cpuS) / seconds) * 1000, rssMedianMiB: median(rss), rssMaxMiB: Math.max(...rss) };
}

async function imageService(): Promise<ReturnType<typeof measure>> {
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-bench-idle-'));
  const socket = join(dir, 'imagegate.sock');
  const port = 19474;
  const child = spawn(process.execPath, [
    CLI, 'image-service', '--config', join(ROOT, 'daemonset/components/eks/image-service.yaml'), '--socket', socket,
    '--backend', 'cri', '--cri-endpoint', `unix://${services.containerdSocket}`, '--metrics-listen', `127.0.0.1:${port}`,
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    for (let i = 0; i < 300 && !existsSync(socket); i++) await sleep(100);
    const read = async () => parse(readFileSync(`/proc/${child.pid}/stat`, 'utf8'), readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    const tick = async () => {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).status !== 200) throw new Error('image service /healthz');
      if (!(await imageFsInfoAnswers(socket, socket))) throw new Error('image service ImageFsInfo');
    };
    for (let t = 0; t < WARMUP_S; t += 10) {
      await tick();
      await sleep(10_000);
    }
    return await measure(read, tick);
  } finally {
    child.kill('SIGTERM');
  }
}

async function patcher(): Promise<ReturnType<typeof measure>> {
  const node = await TestNode.boot('gke', '1.30');
  try {
    await node.startImagegate();
    await node.must(`systemd-run --unit imagegate-patcher --quiet --working-directory=/tmp /usr/bin/node ${CLI} hostpatch apply --watch --kubelet-version 1.30 --log-level warn`);
    for (let i = 0; i < 120 && (await node.sh('test -e /run/systemd/system/kubelet.service.d/99-imagegate.conf')).code !== 0; i++) await sleep(1000);
    if ((await node.sh('test -e /run/systemd/system/kubelet.service.d/99-imagegate.conf')).code !== 0) throw new Error(`patch not applied: ${HOSTPATCH_CLI}`);
    const pid = (await node.must('systemctl show -p MainPID --value imagegate-patcher')).trim();
    const read = async () => {
      const [stat, status] = (await node.must(`cat /proc/${pid}/stat; echo ---; cat /proc/${pid}/status`)).split('---\n');
      return parse(stat, status);
    };
    const tick = async () => {
      await node.must(`/usr/bin/node -e "fetch('http://127.0.0.1:9465/readyz').then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"`);
    };
    await sleep(WARMUP_S * 1000);
    return await measure(read, tick);
  } finally {
    await node.remove();
  }
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error('run `npm run build` first: the figures are for the compiled CLI, as the image runs it');
  const [svc, pat] = await Promise.all([imageService(), patcher()]);
  const row = (name: string, r: Awaited<ReturnType<typeof measure>>) =>
    `| ${name} | ${r.millicores.toFixed(2)} m | ${r.rssMedianMiB.toFixed(1)} MiB | ${r.rssMaxMiB.toFixed(1)} MiB |`;
  process.stdout.write(
    [`idle steady state, ${WINDOW_S} s after ${WARMUP_S} s warm-up (node ${process.version})`, '| container | CPU | RSS median | RSS max |', '|---|---|---|---|', row('image-service (cri, EKS rules)', svc), row('patcher (applied, --watch)', pat), ''].join('\n'),
  );
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
