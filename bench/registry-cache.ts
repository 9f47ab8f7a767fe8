/**
 * bench:registry, blob cache section (issue 14): the facade with
 * registry.cache.blobs on, against the same upstream reached directly and
 * against nginx serving the very same cache files (one worker per core, no
 * access log) two ways, in the same interleaved rounds: through one 512 KiB
 * buffer (`sendfile off; output_buffers 1 512k;`, the fastest of the four
 * configurations measured here, as the facade's hits are) and with
 * sendfile(2) (`sendfile on; tcp_nopush on;`), the usual advice:
 * - cached 512 MiB blob, one stream (5 rounds); 16 parallel 256 MiB blobs (3 rounds);
 * - a cold fill: each round a blob the cache has not seen, 16 clients at once,
 *   its aggregate throughput against one direct stream of the same blob
 *   measured just before, and the upstream blob GETs the facade made for it
 *   (its own imagegate_registry_upstream_seconds_count);
 * - the peak RSS of a fresh cached facade process serving 32 cached 256 MiB pulls.
 * Each ratio is the median of the rounds' ratios, with their range. The CPU
 * columns are the server processes' CPU-seconds (utime + stime of every
 * thread, from /proc) per GiB sent: where the two servers differ in cost,
 * not only in speed. Clients are curl.
 * Environment: BENCH_CACHE_ROUNDS=a,b,c (single, parallel and cold rounds; default 5,3,3).
 * Run alone with `BENCH_REGISTRY_ONLY=cache tsx bench/registry.ts`.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { upstreams } from '../testing/registry/upstreams';
import { freePort } from '../testing/ports';
import { spawnNginx } from './nginx-peer';
import { childrenOf, cpuSeconds } from './proc';
import { requireTcp } from '../testing/services';
import {
  MiB,
  REPO,
  type Target,
  curl,
  facadeToken,
  json,
  mbps,
  median,
  parallel,
  peakRssDuring,
  startFacade,
  stop,
  table,
  waitForPort,
  writeBlob,
} from './registry';

const GiB = 1024 * MiB;

/** nginx serving `<cacheDir>/blobs/sha256/<hex>` at the registry's blob path, with `send` (its sendfile and buffer directives). */
async function startNginx(dir: string, cacheDir: string, port: number, send: string): Promise<ChildProcess> {
  const child = spawnNginx(
    join(dir, `nginx-${port}`),
    'auto',
    `  ${send}
  server {
    listen 127.0.0.1:${port};
    location ~ "^/v2/.+/blobs/sha256:([a-f0-9]{64})$" {
      default_type application/octet-stream;
      alias ${cacheDir}/blobs/sha256/$1;
    }
  }`,
  );
  return waitForPort(port, child, 'nginx peer');
}

/** Upstream blob requests the cached facade has made (from its own metrics). */
async function upstreamBlobGets(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return [...text.matchAll(/^imagegate_registry_upstream_seconds_count\{upstream="bench",kind="blob",[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

interface Served {
  rate: number;
  /** Server CPU-seconds per GiB sent; NaN for direct (not measured). */
  cpuPerGiB: number;
}

/** Runs `work` (which sends `bytes`) and measures the CPU the processes `pids()` spent on it. */
async function withCpu(pids: () => number[], bytes: number, work: () => Promise<number>): Promise<Served> {
  const ids = pids();
  const before = ids.map(cpuSeconds);
  const rate = await work();
  const cpu = ids.map(cpuSeconds).reduce((sum, c, i) => sum + c - before[i], 0);
  return { rate, cpuPerGiB: ids.length ? cpu / (bytes / GiB) : NaN };
}

const span = (r: number[]) => `${median(r).toFixed(2)}× (${Math.min(...r).toFixed(2)}–${Math.max(...r).toFixed(2)})`;
const cpuCell = (xs: Served[]) => `${median(xs.map((x) => x.cpuPerGiB)).toFixed(2)} s`;

/** Runs the section and prints its table. */
export async function cacheSection(): Promise<void> {
  await requireTcp('token upstream', upstreams.token);
  await requireTcp('token issuer', upstreams.issuer);
  const [singleRounds, parallelRounds, coldRounds] = (process.env.BENCH_CACHE_ROUNDS ?? '5,3,3').split(',').map(Number);
  const storage = resolve(__dirname, '..', upstreams.tokenStorage);
  const big = writeBlob(storage, 512 * MiB, 1);
  const mid = writeBlob(storage, 256 * MiB, 2);
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-bench-cache-'));
  const cacheDir = join(dir, 'blob-cache');
  // Ports picked free (not the fixed ones of the uncached rows), so that a process left by another run cannot collide.
  const [port, metricsPort, copyPort, sendfilePort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  let cachedProcess = await startFacade(dir, port, true, cacheDir, metricsPort);
  const nginx: ChildProcess[] = [];
  try {
    const basicAuth = `Basic ${Buffer.from(`${upstreams.user}:${upstreams.password}`).toString('base64')}`;
    const upToken = (await json(`http://${upstreams.issuer}/token?service=imagegate-upstream&scope=${encodeURIComponent(`repository:${REPO}:pull`)}`, { authorization: basicAuth })).token;
    const direct: Target = { name: 'direct', base: `http://${upstreams.token}`, repo: `/v2/${REPO}`, token: upToken };
    const cached: Target = { name: 'facade, blob cache', base: `http://127.0.0.1:${port}`, repo: `/v2/up/${REPO}`, token: await facadeToken(port, `repository:up/${REPO}:pull`) };
    const copyPeer: Target = { ...cached, name: 'nginx, 512 KiB buffer', base: `http://127.0.0.1:${copyPort}` };
    const sendfilePeer: Target = { ...cached, name: 'nginx, sendfile', base: `http://127.0.0.1:${sendfilePort}` };
    await curl(direct, big);
    await curl(cached, big);
    await curl(cached, mid);
    nginx.push(await startNginx(dir, cacheDir, copyPort, 'sendfile off; output_buffers 1 512k;'));
    nginx.push(await startNginx(dir, cacheDir, sendfilePort, 'sendfile on; tcp_nopush on;'));
    await curl(copyPeer, big);
    await curl(sendfilePeer, big);
    const copyPid = nginx[0].pid!;
    const pidsOf = (t: Target): (() => number[]) => (t === cached ? () => [cachedProcess.pid!] : t === copyPeer ? () => [copyPid, ...childrenOf(copyPid)] : () => []);
    const targets = [direct, cached, copyPeer, sendfilePeer];

    const rounds = async (n: number, bytes: number, measure: (t: Target) => Promise<number>): Promise<Served[][]> => {
      const out: Served[][] = targets.map(() => []);
      for (let round = 0; round < n; round++) for (const [i, t] of targets.entries()) out[i].push(await withCpu(pidsOf(t), bytes, () => measure(t)));
      return out;
    };
    const single = await rounds(singleRounds, 512 * MiB, (t) => curl(t, big));
    const par = await rounds(parallelRounds, 16 * 256 * MiB, (t) => parallel(t, mid, 16, 256 * MiB));

    // Cold fills: each round a blob the cache has not seen, 16 clients at once,
    // compared with one direct stream of the same blob measured just before it.
    const cold: { direct: number; fill: Served; gets: number }[] = [];
    for (let round = 0; round < coldRounds; round++) {
      const blob = writeBlob(storage, 256 * MiB, 100 + round);
      const directRate = await curl(direct, blob);
      const before = await upstreamBlobGets(metricsPort);
      const fill = await withCpu(pidsOf(cached), 16 * 256 * MiB, () => parallel(cached, blob, 16, 256 * MiB));
      cold.push({ direct: directRate, fill, gets: (await upstreamBlobGets(metricsPort)) - before });
    }
    for (const peer of nginx.splice(0)) await stop(peer);
    await stop(cachedProcess);
    cachedProcess = await startFacade(dir, port, true, cacheDir, metricsPort);
    const peak = await peakRssDuring(cachedProcess.pid!, parallel({ ...cached, token: await facadeToken(port, `repository:up/${REPO}:pull`) }, mid, 32, 256 * MiB));

    const row = (name: string, target: string, results: Served[][]) => {
      const ratios = (i: number) => results[i].map((r, round) => r.rate / results[0][round].rate);
      return [name, mbps(median(results[0].map((r) => r.rate))), mbps(median(results[1].map((r) => r.rate))), span(ratios(1)), target, span(ratios(2)), span(ratios(3)), cpuCell(results[1]), cpuCell(results[2])];
    };
    const coldRatios = cold.map((c) => c.fill.rate / c.direct);
    const rows = [
      row('cached: single-stream 512 MiB blob', '≥ 1.2×', single),
      row('cached: 16 parallel 256 MiB blobs', '≥ 1.2×', par),
      [
        `cold fill, 16 clients of one 256 MiB blob (upstream GETs: ${cold.map((c) => c.gets).join(', ')})`,
        `${mbps(median(cold.map((c) => c.direct)))} (1 stream)`,
        `${mbps(median(cold.map((c) => c.fill.rate)))} (aggregate)`,
        span(coldRatios),
        '≥ 0.7×, 1 GET',
        '',
        '',
        cpuCell(cold.map((c) => c.fill)),
        '',
      ],
      ['cached facade peak RSS, 32 × 256 MiB pulls', '', `${peak.toFixed(0)} MB`, '', '≤ 150 MB', '', '', '', ''],
    ];
    const head = ['measure', 'direct', 'facade, cache', 'ratio', 'target', 'nginx, 512 KiB buffer', 'nginx, sendfile', 'facade CPU / GiB', 'nginx CPU / GiB'];
    process.stdout.write('\nblob cache (same run; nginx serves the same cache files; its CPU column is the 512 KiB buffer):\n' + table(head, rows));
  } finally {
    for (const peer of nginx) await stop(peer);
    await stop(cachedProcess);
    rmSync(dir, { recursive: true, force: true });
  }
}
