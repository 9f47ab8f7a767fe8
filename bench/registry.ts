/**
 * The registry facade against the same upstream reached directly, in one run:
 * blob throughput (one 512 MiB stream; 16 parallel 256 MiB streams),
 * manifest-by-digest requests per second with bearer auth at 64 connections
 * (wrk), and the facade's peak RSS while serving 32 concurrent 256 MiB pulls.
 * The upstream is the CI's `auth: token` docker-registry (127.0.0.1:5011,
 * .ci/services/60-registry-upstreams.sh); the benchmark writes its blobs into
 * that registry's storage. The facade runs as its own process (`imagegate
 * registry`), as in production, and relays blobs with splice(2)
 * (registry.zeroCopy, the default). Clients are curl and wrk.
 *
 * For scale, the blob rows also show the same facade with zeroCopy off (blobs
 * streamed through user space) and a ten-line Node `http` pipe to the same
 * upstream (no auth, no routing): what any Node proxy pays for copying every
 * byte through user space (docker-registry 2.8 itself copies each blob twice:
 * file to user space, user space to socket). The blob targets are measured in
 * turn, round after round (5 rounds for one stream, 3 for 16 in parallel);
 * each ratio is the median of the rounds' ratios to direct, with their range.
 * The RSS row uses a fresh facade process.
 *
 * The blob cache section (registry.cache.blobs; bench/registry-cache.ts)
 * follows, with nginx serving the same cache files as its peer, then the
 * scale-out section (bench/registry-scaleout.ts).
 *
 * Login flood (a second table): a facade process checking logins against an
 * htpasswd file (bcrypt cost 10, on its worker pool) serves manifest-by-digest
 * to one authenticated client (wrk, warm bearer token, 4 connections) while
 * another address (127.0.0.2) keeps 400 concurrent bad logins going, each
 * sent again as soon as it is answered; the p99 is compared with the same wrk
 * run without the flood, and the logins checked (401) and refused at once
 * (429) are counted per second. Three rounds, quiet and flooded in turn; each
 * ratio is the median of the rounds' ratios, with their range. The flood facade's per-address budgets and
 * connection cap are raised so that all 400 reach the login gate (the worst
 * case; its other limits are the defaults).
 * Environment: BENCH_REGISTRY_SECONDS (wrk duration, default 10);
 * BENCH_REGISTRY_ONLY=login-flood runs only the login-flood table, =cache only the blob cache section.
 */
import bcrypt from 'bcryptjs';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { requireTcp } from '../testing/services';
import { upstreams } from '../testing/registry/upstreams';

const run = promisify(execFile);
export const MiB = 1024 * 1024;
export const REPO = 'bench/blobs';
const DOCKER_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
const FACADE_PORT = 5018;
const PIPE_PORT = 5019;
const STREAMING_PORT = 5020;
const FLOOD_PORT = 5021;
const FLOOD_CONNECTIONS = 400;
/** Quiet and flooded wrk runs, interleaved; the ratios are per round. */
const FLOOD_ROUNDS = 3;

/** The reference: the least a Node proxy can do — pipe the upstream response through. */
const PLAIN_PIPE = `
const http = require('http');
const agent = new http.Agent({ keepAlive: true });
http.createServer((req, res) => {
  http.request({ host: '127.0.0.1', port: ${upstreams.token.split(':')[1]}, path: req.url, headers: req.headers.authorization ? { authorization: req.headers.authorization } : {}, agent }, (up) => {
    res.writeHead(up.statusCode, up.headers);
    up.pipe(res);
  }).end();
}).listen(${PIPE_PORT}, '127.0.0.1');`;
const SECONDS = Number(process.env.BENCH_REGISTRY_SECONDS ?? 10);

export interface Target {
  name: string;
  base: string;
  /** Path prefix of the repository (`/v2/<name>`). */
  repo: string;
  token: string;
}

/** Writes a blob of `size` bytes straight into the registry's filesystem storage and links it into REPO. */
export function writeBlob(storage: string, size: number, seed: number): string {
  const chunk = Buffer.alloc(MiB);
  for (let i = 0; i < MiB; i += 64) createHash('sha512').update(`imagegate-bench-${seed}-${i}`).digest().copy(chunk, i);
  const hash = createHash('sha256');
  for (let done = 0; done < size; done += MiB) hash.update(chunk);
  const hex = hash.digest('hex');
  const root = join(storage, 'docker/registry/v2');
  const dataDir = join(root, 'blobs/sha256', hex.slice(0, 2), hex);
  if (!existsSync(join(dataDir, 'data'))) {
    mkdirSync(dataDir, { recursive: true });
    const fd = openSync(join(dataDir, 'data'), 'w');
    for (let done = 0; done < size; done += MiB) writeSync(fd, chunk);
    closeSync(fd);
  }
  const link = join(root, 'repositories', REPO, '_layers/sha256', hex);
  mkdirSync(link, { recursive: true });
  writeFileSync(join(link, 'link'), `sha256:${hex}`);
  return `sha256:${hex}`;
}

export async function json(url: string, headers: Record<string, string> = {}): Promise<any> {
  const res = await fetch(url, { headers });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return res.json();
}

/** One curl download; returns bytes per second. */
export async function curl(target: Target, digest: string): Promise<number> {
  const { stdout } = await run('curl', ['-sS', '-f', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', '-H', `authorization: Bearer ${target.token}`, `${target.base}${target.repo}/blobs/${digest}`], {
    timeout: 300_000,
  });
  const [bytes, seconds] = stdout.trim().split(' ').map(Number);
  return bytes / seconds;
}

/** `n` parallel downloads; returns aggregate bytes per second. */
export async function parallel(target: Target, digest: string, n: number, size: number): Promise<number> {
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: n }, () => curl(target, digest)));
  return (n * size) / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function wrk(target: Target, digest: string): Promise<number> {
  const { stdout } = await run('wrk', ['-t2', '-c64', `-d${SECONDS}s`, '-H', `Authorization: Bearer ${target.token}`, '-H', `Accept: ${DOCKER_V2}`, `${target.base}${target.repo.replace(REPO, 'test/busybox')}/manifests/${digest}`], { timeout: (SECONDS + 30) * 1000 });
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
  if (!rps) throw new Error(`wrk: ${stdout}`);
  if (non2xx) throw new Error(`wrk saw ${non2xx[1]} failed responses against ${target.name}`);
  return Number(rps[1]);
}

/** Resident set (VmRSS) of a process, in MB. */
function rss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? (Number(m[1]) * 1024) / 1e6 : 0;
  } catch {
    return 0;
  }
}

/** The highest RSS of `pid` sampled every 20 ms while `work` runs. */
export async function peakRssDuring(pid: number, work: Promise<unknown>): Promise<number> {
  let peak = rss(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rss(pid))), 20);
  try {
    await work;
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, rss(pid));
}

export async function waitForPort(port: number, child: ChildProcess, what: string): Promise<ChildProcess> {
  for (let i = 0; i < 100 && child.exitCode === null; i++) {
    try {
      await requireTcp(what, `127.0.0.1:${port}`, 200);
      await new Promise((r) => setTimeout(r, 200));
      if (child.exitCode !== null) break;
      return child;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill();
  throw new Error(`${what} did not start (is port ${port} taken?)`);
}

/** A facade process; with `cacheDir` the blob cache is on and its metrics listen on `metricsPort`. */
export async function startFacade(dir: string, port = FACADE_PORT, zeroCopy = true, cacheDir?: string, metricsPort = 0): Promise<ChildProcess> {
  const config = join(dir, `registry-${port}.yml`);
  writeFileSync(
    config,
    [
      'registry:',
      `  listen: 127.0.0.1:${port}`,
      `  zeroCopy: ${zeroCopy}`,
      cacheDir ? `  metricsListen: 127.0.0.1:${metricsPort}` : "  metricsListen: ''",
      ...(cacheDir ? [`  cache: {blobs: {dir: ${cacheDir}, maxBytes: ${4 * 1024 * MiB}}}`] : []),
      '  upstreams:',
      `    - {name: bench, prefix: up, url: "http://${upstreams.token}", auth: {basic: {username: ${upstreams.user}, password: {value: ${upstreams.password}}}}, realmHosts: ["${upstreams.issuer}"]}`,
      '  auth:',
      '    chain: [{static: {users: [{username: bench, password: bench-password}]}}]',
      '    rules: [{identity: bench, repositories: ["**"]}]',
      'log: {level: warn}',
    ].join('\n'),
  );
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'bin/main.ts', 'registry', '--config', config], { stdio: ['ignore', 'ignore', 'inherit'], cwd: resolve(__dirname, '..') });
  return waitForPort(port, child, 'facade');
}

/** A facade access token for `scope` (each facade process signs with its own key). */
export async function facadeToken(port: number, scope: string): Promise<string> {
  const url = `http://127.0.0.1:${port}/token?service=imagegate-registry&scope=${encodeURIComponent(scope)}`;
  return (await json(url, { authorization: `Basic ${Buffer.from('bench:bench-password').toString('base64')}` })).token;
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

const ratio = (a: number, b: number) => (a / b).toFixed(2);
export const mbps = (bps: number) => `${(bps / MiB).toFixed(0)} MiB/s`;
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/**
 * Runs `measure` on every target in turn, `rounds` times, so that each round
 * compares the targets under the same conditions; returns each target's
 * results and its ratio to the first target (direct) round by round.
 */
export async function interleaved(targets: Target[], rounds: number, measure: (t: Target) => Promise<number>): Promise<{ values: number[][]; ratios: number[][] }> {
  const values: number[][] = targets.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const [i, target] of targets.entries()) values[i].push(await measure(target));
  }
  return { values, ratios: values.map((v) => v.map((x, round) => x / values[0][round])) };
}

/** direct and facade medians, the median per-round ratio (with its range), the target, then the two references. */
const blobRow = ({ values, ratios }: { values: number[][]; ratios: number[][] }) => {
  const span = (r: number[]) => `${median(r).toFixed(2)}× (${Math.min(...r).toFixed(2)}–${Math.max(...r).toFixed(2)})`;
  return [mbps(median(values[0])), mbps(median(values[1])), span(ratios[1]), '≥ 0.8×', span(ratios[2]), span(ratios[3])];
};

/** wrk's p99 latency in ms for manifest-by-digest with a bearer token at 4 connections. */
async function wrkP99(base: string, token: string, path: string): Promise<{ p99: number; rps: number }> {
  const { stdout } = await run('wrk', ['-t1', '-c4', `-d${SECONDS}s`, '--latency', '-H', `Authorization: Bearer ${token}`, '-H', `Accept: ${DOCKER_V2}`, `${base}${path}`], { timeout: (SECONDS + 30) * 1000 });
  const m = /\s99%\s+([\d.]+)(us|ms|s)\b/.exec(stdout);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
  if (!m || !rps) throw new Error(`wrk: ${stdout}`);
  if (non2xx) throw new Error(`wrk saw ${non2xx[1]} failed responses`);
  return { p99: Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2] as 'us' | 'ms' | 's'], rps: Number(rps[1]) };
}

/**
 * The attacker, in its own process: FLOOD_CONNECTIONS bad logins kept in flight
 * from 127.0.0.2, each sent again as soon as it is answered; on SIGUSR2 it
 * prints its counts of answers by status, as JSON.
 */
const LOGIN_FLOOD = `
const http = require('http');
const [port, connections] = process.argv.slice(1).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: connections, localAddress: '127.0.0.2' });
const counts = {};
const one = (i, n) => http.get({ host: '127.0.0.1', port, path: '/token?service=imagegate-registry&scope=repository:up/test/busybox:pull',
  headers: { authorization: 'Basic ' + Buffer.from('user-' + (i % 50) + ':bad-' + i + '-' + n).toString('base64') }, agent }, (res) => {
  res.resume();
  res.once('end', () => { counts[res.statusCode] = (counts[res.statusCode] || 0) + 1; one(i, n + 1); });
}).once('error', () => { counts[0] = (counts[0] || 0) + 1; setTimeout(() => one(i, n + 1), 50); });
for (let i = 0; i < connections; i++) one(i, 0);
process.on('SIGUSR2', () => process.stdout.write(JSON.stringify(counts) + '\\n'));
`;

/** Starts the attacker process; `counts()` asks it for its answers so far. */
function startLoginFlood(port: number): { counts(): Promise<Record<string, number>>; stop(): Promise<void> } {
  const child = spawn(process.execPath, ['-e', LOGIN_FLOOD, String(port), String(FLOOD_CONNECTIONS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += String(c)));
  return {
    async counts() {
      const seen = out.length;
      child.kill('SIGUSR2');
      for (let i = 0; i < 100 && !out.slice(seen).includes('\n'); i++) await new Promise((r) => setTimeout(r, 20));
      return JSON.parse(out.slice(seen).split('\n')[0]) as Record<string, number>;
    },
    stop: () => stop(child),
  };
}

/** The login-flood table: quiet p99 against p99 under the flood, and the logins checked per second. */
async function loginFloodRows(dir: string): Promise<string[][]> {
  const config = join(dir, 'registry-flood.yml');
  writeFileSync(join(dir, 'flood.htpasswd'), `bench:${bcrypt.hashSync('bench-password', 10)}\n`);
  writeFileSync(
    config,
    [
      'registry:',
      `  listen: 127.0.0.1:${FLOOD_PORT}`,
      "  metricsListen: ''",
      '  upstreams:',
      `    - {name: bench, prefix: up, url: "http://${upstreams.token}", auth: {basic: {username: ${upstreams.user}, password: {value: ${upstreams.password}}}}, realmHosts: ["${upstreams.issuer}"]}`,
      '  auth:',
      `    chain: [{htpasswd: {file: ${join(dir, 'flood.htpasswd')}}}]`,
      '    rules: [{identity: bench, repositories: ["**"]}]',
      '  rateLimit: {perClientAndUser: 1000000, perClient: 1000000}',
      `  limits: {maxConnectionsPerClient: ${FLOOD_CONNECTIONS + 100}}`,
      'log: {level: error}',
    ].join('\n'),
  );
  const child = await waitForPort(FLOOD_PORT, spawn(process.execPath, ['--require', 'tsx/cjs', 'bin/main.ts', 'registry', '--config', config], { stdio: ['ignore', 'ignore', 'inherit'], cwd: resolve(__dirname, '..') }), 'flood facade');
  try {
    const token = await facadeToken(FLOOD_PORT, 'repository:up/test/busybox:pull');
    const manifest = await fetch(`http://127.0.0.1:${FLOOD_PORT}/v2/up/test/busybox/manifests/1`, { headers: { authorization: `Bearer ${token}`, accept: DOCKER_V2 } });
    if (!manifest.ok) throw new Error(`flood facade answered ${manifest.status} for the manifest`);
    const path = `/v2/up/test/busybox/manifests/${manifest.headers.get('docker-content-digest')}`;
    const base = `http://127.0.0.1:${FLOOD_PORT}`;
    await wrkP99(base, token, path);
    const quiet: { p99: number; rps: number }[] = [];
    const loaded: { p99: number; rps: number }[] = [];
    let checked = 0;
    let refused = 0;
    let seconds = 0;
    for (let round = 0; round < FLOOD_ROUNDS; round++) {
      quiet.push(await wrkP99(base, token, path));
      const flood = startLoginFlood(FLOOD_PORT);
      try {
        await new Promise((r) => setTimeout(r, 2000));
        const started = Date.now();
        const before = await flood.counts();
        loaded.push(await wrkP99(base, token, path));
        const after = await flood.counts();
        seconds += (Date.now() - started) / 1000;
        checked += (after[401] ?? 0) - (before[401] ?? 0);
        refused += (after[429] ?? 0) - (before[429] ?? 0);
      } finally {
        await flood.stop();
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
    const p99Ratios = loaded.map((l, i) => l.p99 / quiet[i].p99);
    const rpsRatios = loaded.map((l, i) => l.rps / quiet[i].rps);
    const span = (r: number[]) => `${median(r).toFixed(2)}× (${Math.min(...r).toFixed(2)}–${Math.max(...r).toFixed(2)})`;
    const ms = (xs: { p99: number }[]) => `${median(xs.map((x) => x.p99)).toFixed(2)} ms`;
    const rps = (xs: { rps: number }[]) => `${median(xs.map((x) => x.rps)).toFixed(0)} req/s`;
    return [
      [`manifest by digest p99, bearer, 4 conns, vs ${FLOOD_CONNECTIONS} concurrent bad logins`, ms(quiet), ms(loaded), span(p99Ratios), '≤ 2.0×'],
      ['manifest by digest throughput, same runs', rps(quiet), rps(loaded), span(rpsRatios), ''],
      ['logins checked (401) / refused unchecked (429) per second', '', `${(checked / seconds).toFixed(1)} / ${(refused / seconds).toFixed(0)}`, '', ''],
    ];
  } finally {
    await stop(child);
  }
}

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n') + '\n';
}

async function main(): Promise<void> {
  if (process.env.BENCH_REGISTRY_ONLY === 'login-flood') {
    await requireTcp('token upstream', upstreams.token);
    const dir = mkdtempSync(join(tmpdir(), 'imagegate-bench-registry-'));
    try {
      process.stdout.write(table(['measure', 'quiet', 'login flood', 'ratio', 'target'], await loginFloodRows(dir)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return;
  }
  if (process.env.BENCH_REGISTRY_ONLY === 'cache') return (await import('./registry-cache')).cacheSection();
  await requireTcp('token upstream', upstreams.token);
  await requireTcp('token issuer', upstreams.issuer);
  const storage = resolve(__dirname, '..', upstreams.tokenStorage);
  const big = writeBlob(storage, 512 * MiB, 1);
  const mid = writeBlob(storage, 256 * MiB, 2);
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-bench-registry-'));
  let facadeProcess = await startFacade(dir);
  const streamingProcess = await startFacade(dir, STREAMING_PORT, false);
  const pipeProcess = await waitForPort(PIPE_PORT, spawn(process.execPath, ['-e', PLAIN_PIPE], { stdio: 'inherit' }), 'plain Node pipe');
  try {
    const basicAuth = `Basic ${Buffer.from(`${upstreams.user}:${upstreams.password}`).toString('base64')}`;
    const scope = `repository:${REPO}:pull repository:test/busybox:pull`;
    const upToken = (await json(`http://${upstreams.issuer}/token?service=imagegate-upstream&scope=${encodeURIComponent(`repository:${REPO}:pull`)}&scope=${encodeURIComponent('repository:test/busybox:pull')}`, { authorization: basicAuth })).token;
    const direct: Target = { name: 'direct', base: `http://${upstreams.token}`, repo: `/v2/${REPO}`, token: upToken };
    const facade: Target = { name: 'facade', base: `http://127.0.0.1:${FACADE_PORT}`, repo: `/v2/up/${REPO}`, token: await facadeToken(FACADE_PORT, scope.replace(/repository:/g, 'repository:up/')) };
    const pipe: Target = { ...direct, name: 'plain Node pipe', base: `http://127.0.0.1:${PIPE_PORT}` };
    const streaming: Target = { ...facade, name: 'facade, zeroCopy off', base: `http://127.0.0.1:${STREAMING_PORT}`, token: await facadeToken(STREAMING_PORT, `repository:up/${REPO}:pull`) };
    const manifest = await fetch(`${direct.base}/v2/test/busybox/manifests/1`, { headers: { authorization: `Bearer ${upToken}`, accept: DOCKER_V2 } });
    const manifestDigest = String(manifest.headers.get('docker-content-digest'));
    await curl(direct, big);
    await curl(facade, big);

    const targets = [direct, facade, streaming, pipe];
    const single = await interleaved(targets, 5, (target) => curl(target, big));
    const par = await interleaved(targets, 3, (target) => parallel(target, mid, 16, 256 * MiB));
    await wrk(facade, manifestDigest).catch(() => 0);
    const rps = [await wrk(direct, manifestDigest), await wrk(facade, manifestDigest)];
    await stop(facadeProcess);
    facadeProcess = await startFacade(dir);
    const peak = await peakRssDuring(facadeProcess.pid!, parallel({ ...facade, token: await facadeToken(FACADE_PORT, `repository:up/${REPO}:pull`) }, mid, 32, 256 * MiB));


    const rows = [
      ['single-stream 512 MiB blob', ...blobRow(single)],
      ['16 parallel 256 MiB blobs', ...blobRow(par)],
      ['manifest by digest, bearer, 64 conns', `${rps[0].toFixed(0)} req/s`, `${rps[1].toFixed(0)} req/s`, `${ratio(rps[1], rps[0])}×`, '≥ 1.0×', '', ''],
      ['facade peak RSS, 32 × 256 MiB pulls', '', `${peak.toFixed(0)} MB`, '', '≤ 200 MB', '', ''],
    ];
    const head = ['measure', 'direct', 'facade', 'ratio', 'target', 'facade, zeroCopy off', 'plain Node pipe'];
    process.stdout.write(table(head, rows));
    await stop(facadeProcess);
    process.stdout.write('\n' + table(['measure', 'quiet', 'login flood', 'ratio', 'target'], await loginFloodRows(dir)));
  } finally {
    await stop(facadeProcess);
    await stop(streamingProcess);
    await stop(pipeProcess);
    rmSync(dir, { recursive: true, force: true });
  }
  await (await import('./registry-cache')).cacheSection();
  await (await import('./registry-scaleout')).scaleOut();
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`bench:registry failed: ${err.message}\n`);
    process.exit(1);
  });
}
