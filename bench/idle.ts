/**
 * `npm run bench:idle`: each DaemonSet container's steady-state CPU and RSS
 * on an idle node and, for the image service, during 20 concurrent pulls, on
 * the compiled CLI as the image runs it (`npm run build` first). These
 * figures set the DaemonSet's requests and limits (README, install;
 * test/install/daemonset.test.ts holds them).
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
 * - image-service, 20 concurrent pulls: after the idle window, the same
 *   process serves rounds of 20 concurrent PullImage calls (kubelet's
 *   maxParallelImagePulls at its largest common setting) through containerd
 *   from the CI's open docker-registry, for the same window: 20 images of
 *   this run's own (`bench/idle-<pid>/n:1`, pushed here, each one 4 MiB
 *   layer of random bytes, so nothing is shared with other images), removed
 *   after each round so the next round transfers them again. The patcher is
 *   not on the pull path (it talks to the image service only for its
 *   ImageFsInfo check), so it has no pull phase.
 *
 * CPU: utime + stime over the window, as millicores. RSS: VmRSS sampled
 * every 5 s (median and maximum) after a warm-up (the pull phase samples
 * every second: it is bursty). Environment: BENCH_IDLE_WARMUP_S (default
 * 30), BENCH_IDLE_WINDOW_S (default 120), BENCH_IDLE_PULLS (default 20),
 * BENCH_IDLE_PARTS (default `image-service,patcher`).
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { imageFsInfoAnswers } from '../hostpatch/probe';
import { call, imageServiceClient } from '../src/cri/client/connect';
import { HOSTPATCH_CLI, TestNode } from '../testing/hostpatch/node';
import { services } from '../testing/services';

const ROOT = resolve(__dirname, '..');
const CLI = join(ROOT, 'dist/bin/main.js');
const TICKS = 100;
const WARMUP_S = Number(process.env.BENCH_IDLE_WARMUP_S ?? 30);
const WINDOW_S = Number(process.env.BENCH_IDLE_WINDOW_S ?? 120);
const PULLS = Number(process.env.BENCH_IDLE_PULLS ?? 20);
const LAYER_BYTES = 4 << 20;

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

type Figures = Awaited<ReturnType<typeof measure>>;

async function imageService(): Promise<{ idle: Figures; pulls: Figures & { rounds: number; pullsPerS: number } }> {
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-bench-idle-'));
  const socket = join(dir, 'imagegate.sock');
  const port = 19474;
  const images = await pushImages(dir);
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
    const idle = await measure(read, tick);
    return { idle, pulls: await pullPhase(socket, images, read, tick) };
  } finally {
    child.kill('SIGTERM');
  }
}

/**
 * Rounds of PULLS concurrent PullImage calls (then RemoveImage of each) for
 * the window, while kubelet's probe and heartbeat go on; RSS every second.
 */
async function pullPhase(socket: string, images: string[], read: () => Promise<Sample>, tick: () => Promise<void>): Promise<Figures & { rounds: number; pullsPerS: number }> {
  const client = imageServiceClient(`unix://${socket}`);
  const rss: number[] = [];
  let stop = false;
  const sampler = (async () => {
    while (!stop) {
      rss.push((await read()).rssMiB);
      await sleep(1000);
    }
  })();
  const ticker = (async () => {
    while (!stop) {
      await tick();
      await sleep(10_000);
    }
  })();
  const first = await read();
  const started = Date.now();
  let rounds = 0;
  try {
    while (Date.now() - started < WINDOW_S * 1000) {
      await Promise.all(images.map((image) => call(client, 'PullImage', { image: { image } }, { timeoutMs: 300_000 })));
      await Promise.all(images.map((image) => call(client, 'RemoveImage', { image: { image } }, { timeoutMs: 60_000 })));
      rounds++;
    }
  } finally {
    stop = true;
    await Promise.all([sampler, ticker]);
    client.close();
  }
  const last = await read();
  const seconds = (Date.now() - started) / 1000;
  return { millicores: ((last.cpuS - first.cpuS) / seconds) * 1000, rssMedianMiB: median(rss), rssMaxMiB: Math.max(...rss), rounds, pullsPerS: (rounds * images.length) / seconds };
}

/**
 * Pushes PULLS single-layer images of this run's own to the open registry
 * (OCI manifest, an uncompressed tar layer holding LAYER_BYTES of random
 * bytes), with docker-registry's upload API; returns their references.
 */
async function pushImages(dir: string): Promise<string[]> {
  const registry = `http://${services.registryOpen}`;
  const upload = async (repo: string, body: Buffer): Promise<string> => {
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    const start = await fetch(`${registry}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    if (start.status !== 202) throw new Error(`upload to ${repo}: ${start.status}`);
    const location = new URL(start.headers.get('location')!, registry);
    location.searchParams.set('digest', digest);
    const put = await fetch(location, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } });
    if (put.status !== 201) throw new Error(`upload to ${repo}: ${put.status}`);
    return digest;
  };
  const refs: string[] = [];
  for (let i = 0; i < PULLS; i++) {
    const repo = `bench/idle-${process.pid}/n${i}`;
    writeFileSync(join(dir, 'data'), randomBytes(LAYER_BYTES));
    execFileSync('tar', ['-C', dir, '-cf', join(dir, 'layer.tar'), 'data']);
    const layer = readFileSync(join(dir, 'layer.tar'));
    const layerDigest = await upload(repo, layer);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [layerDigest] } }));
    const configDigest = await upload(repo, config);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
    });
    const put = await fetch(`${registry}/v2/${repo}/manifests/1`, { method: 'PUT', body: manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
    if (put.status !== 201) throw new Error(`manifest ${repo}: ${put.status} ${await put.text()}`);
    refs.push(`${services.registryOpen}/${repo}:1`);
  }
  return refs;
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
  const parts = (process.env.BENCH_IDLE_PARTS ?? 'image-service,patcher').split(',');
  const [svc, pat] = await Promise.all([imageService(), parts.includes('patcher') ? patcher() : undefined]);
  const row = (name: string, r: Figures) =>
    `| ${name} | ${r.millicores.toFixed(2)} m | ${r.rssMedianMiB.toFixed(1)} MiB | ${r.rssMaxMiB.toFixed(1)} MiB |`;
  process.stdout.write(
    [
      `steady state, ${WINDOW_S} s windows after ${WARMUP_S} s warm-up (node ${process.version}); pulls: ${PULLS} concurrent PullImage of ${LAYER_BYTES >> 20} MiB images through containerd, ${svc.pulls.rounds} rounds, ${svc.pulls.pullsPerS.toFixed(2)} pulls/s`,
      '| container | CPU | RSS median | RSS max |',
      '|---|---|---|---|',
      row('image-service (cri, EKS rules), idle', svc.idle),
      row(`image-service (cri, EKS rules), ${PULLS} concurrent pulls`, svc.pulls),
      ...(pat ? [row('patcher (applied, --watch), idle', pat)] : []),
      '',
    ].join('\n'),
  );
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
