/**
 * `npm run bench:outbound`: requests through `imagegate outbound-proxy` against
 * the same loopback upstream reached directly and through three other proxies,
 * all measured in one run, interleaved, with wrk:
 *
 *  - direct: the upstream itself (a node:http server in a process of its own);
 *  - imagegate: the real CLI, compiled (`npm run build`, as the image runs it),
 *    pinned to the upstream, tokens from the AWS stand-in (minted once, then
 *    served from the cache), once as one process (the default, WORKERS=1)
 *    and once with WORKERS=auto (one worker per core, node:cluster);
 *  - Go: `httputil.ReverseProxy` with aws-outbound-jwt-proxy's Transport
 *    settings and a fixed bearer token (bench/go-reverse-proxy, standard
 *    library only, built here with `go build` from Debian's golang-go);
 *  - nginx: `proxy_pass` to an `upstream` block with `keepalive`,
 *    `proxy_set_header Authorization` (config generated into a temp dir), once
 *    with one worker and once with `worker_processes auto`;
 *  - bare Node: a 6-line node:http pass-through with no token, no header
 *    handling and no metrics.
 *
 *  1. Saturation: 64 connections, 1 KiB and 64 KiB response bodies; requests/s,
 *     p99, and CPU time per request of each target's processes (utime + stime
 *     from /proc, the target's process and its children: nginx's and
 *     imagegate's workers) over the same wrk runs. Targets: imagegate ≥ 1.2× Go
 *     and ≥ 0.5× nginx at both sizes, reported for 1 process against nginx
 *     with 1 worker and for WORKERS=auto against nginx with auto workers.
 *  2. Fixed rate, ~1,000 requests/s (wrk has no rate option: a Lua `delay()` of
 *     10 ms on each of 10 connections); p99 added over direct. Target:
 *     imagegate's ≤ Go's.
 *
 * Each figure is the median of BENCH_OUTBOUND_ROUNDS (default 5) wrk runs of
 * BENCH_OUTBOUND_SECONDS (default 4), the targets interleaved in every round.
 * Extra environment for the imagegate process: BENCH_OUTBOUND_IMAGEGATE_ENV
 * (`K=V,K=V`), for experiments.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsStandIn } from '../testing/aws';

const SECONDS = Number(process.env.BENCH_OUTBOUND_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_OUTBOUND_ROUNDS ?? 5);
const BODIES = [1024, 64 * 1024];
const ROOT = join(__dirname, '..');

const UPSTREAM = `
const http = require('node:http');
const bodies = new Map();
const server = http.createServer((req, res) => {
  const n = Number(new URL(req.url, 'http://x').searchParams.get('bytes') || 0);
  if (!bodies.has(n)) bodies.set(n, Buffer.alloc(n, 0x61));
  req.resume();
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
  res.end(bodies.get(n));
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

const MINIMAL_PROXY = (upstreamPort: string) => `
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true });
const server = http.createServer((req, res) => {
  const up = http.request({ host: '127.0.0.1', port: ${upstreamPort}, method: req.method, path: req.url, headers: req.headers, agent }, (r) => { res.writeHead(r.statusCode, r.headers); r.pipe(res); });
  req.pipe(up);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

interface WrkResult {
  rps: number;
  p99Ms: number;
  errors: number;
  /** CPU time of the target's processes per request, µs (NaN when the target has no process of ours: direct has one, all have). */
  cpuUs: number;
}

/** utime + stime of a process, in ms (CLK_TCK = 100 on Linux); 0 when it is gone. */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/** The process and its children (nginx's or imagegate's workers), read from /proc. */
function processTree(pid: number): number[] {
  const children = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')[1] === String(pid);
      } catch {
        return false;
      }
    })
    .map(Number);
  return [pid, ...children];
}

/** A proxy (or the upstream) under test: where wrk sends requests, and whose CPU time counts. */
interface Target {
  name: string;
  host: string;
  pids: number[];
}

/** Starts a child and resolves with the first stdout/stderr line matching `ready`. */
function startChild(args: string[], env: NodeJS.ProcessEnv, ready: RegExp, stream: 'stdout' | 'stderr', command = process.execPath): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start`)), 30_000);
    let text = '';
    child[stream]!.setEncoding('utf8').on('data', (t: string) => {
      text += t;
      const match = ready.exec(text);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match });
      }
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${text}`)));
  });
}

function toMs(value: string, unit: string): number {
  return Number(value) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[unit];
}

function wrk(url: string, connections: number, script?: string, pids: number[] = [], seconds = SECONDS): WrkResult {
  const cpuBefore = pids.reduce((n, pid) => n + cpuMs(pid), 0);
  const args = ['-t', '2', '-c', String(connections), '-d', `${seconds}s`, '--latency', ...(script ? ['-s', script] : []), url];
  const out = spawnSync('wrk', args, { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  if (out.status !== 0) throw new Error(`wrk failed: ${out.stderr || out.error?.message}`);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out.stdout);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(out.stdout);
  if (!rps || !p99) throw new Error(`cannot read wrk output:\n${out.stdout}`);
  const errors = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out.stdout)?.[1] ?? 0) + Number(/Socket errors:.*?timeout (\d+)/.exec(out.stdout)?.[1] ?? 0);
  const requests = Number(/(\d+) requests in/.exec(out.stdout)?.[1] ?? NaN);
  const cpu = pids.reduce((n, pid) => n + cpuMs(pid), 0) - cpuBefore;
  return { rps: Number(rps[1]), p99Ms: toMs(p99[1], p99[2]), errors, cpuUs: pids.length ? (cpu * 1000) / requests : NaN };
}

/**
 * Runs wrk against each URL in turn, ROUNDS times (so that a burst of load on
 * the machine hits every target alike), and keeps each target's median
 * requests/s and median p99.
 */
function interleaved(targets: Target[], path: string, connections: number, script?: string): WrkResult[] {
  const runs: WrkResult[][] = targets.map(() => []);
  for (let round = 0; round < ROUNDS; round++) targets.forEach((t, i) => runs[i].push(wrk(`http://${t.host}${path}`, connections, script, t.pids)));
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  return runs.map((r) => ({
    rps: median(r.map((x) => x.rps)),
    p99Ms: median(r.map((x) => x.p99Ms)),
    errors: r.reduce((n, x) => n + x.errors, 0),
    cpuUs: median(r.map((x) => x.cpuUs)),
  }));
}

function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map((r) => line(r.map(String)))].join('\n');
}

/** A fixed token as long as the RS256 JWTs imagegate sends (~900 bytes), for the Go proxy and nginx. */
const FIXED_TOKEN = 'eyJ' + 'a'.repeat(900);

/** Builds bench/go-reverse-proxy with Debian's golang-go (GOPATH mode, standard library only). */
function buildGoProxy(dir: string): string {
  const out = join(dir, 'go-reverse-proxy');
  const build = spawnSync('go', ['build', '-o', out, '.'], {
    cwd: join(ROOT, 'bench', 'go-reverse-proxy'),
    env: { PATH: process.env.PATH, HOME: process.env.HOME ?? dir, GO111MODULE: 'off', GOPATH: join(dir, 'gopath'), GOFLAGS: '' },
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (build.status !== 0) throw new Error(`go build failed (is golang-go installed?):\n${build.stderr || build.error?.message}`);
  return out;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** nginx (nginx-light), `workers` worker processes (a number or `auto`), keep-alive upstream block, the token set as a header; config in `dir`. */
async function startNginx(parent: string, upstreamPort: string, workers: string): Promise<{ child: ChildProcess; host: string }> {
  const port = await freePort();
  const dir = join(parent, `nginx-${workers}`);
  mkdirSync(dir, { recursive: true });
  const temp = join(dir, 'nginx-temp');
  mkdirSync(temp, { recursive: true });
  chmodSync(parent, 0o755);
  chmodSync(dir, 0o755);
  chmodSync(temp, 0o777);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes ${workers};
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'nginx-error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${temp}/body;
  proxy_temp_path ${temp}/proxy;
  fastcgi_temp_path ${temp}/fastcgi;
  uwsgi_temp_path ${temp}/uwsgi;
  scgi_temp_path ${temp}/scgi;
  upstream bench_upstream {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer ${FIXED_TOKEN}";
    }
  }
}
`,
  );
  const child = spawn('nginx', ['-c', conf, '-p', dir, '-e', join(dir, 'nginx-error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const host = `127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode} (is nginx-light installed?)`);
    const ok = await fetch(`http://${host}/?bytes=1`).then((r) => r.status === 200, () => false);
    if (ok) return { child, host };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('nginx did not answer within 10 s');
}

const AUTO = availableParallelism();

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-outbound-'));
  const script = join(dir, 'rate.lua');
  writeFileSync(script, '-- 10 connections x one request per 10 ms = 1,000 requests/s\nfunction delay()\n  return 10\nend\n');
  const aws = await AwsStandIn.start();
  const children: ChildProcess[] = [];
  const nginxes: ChildProcess[] = [];
  try {
    const upstream = await startChild(['-e', UPSTREAM], { PATH: process.env.PATH }, /^(\d+)\n/, 'stdout');
    children.push(upstream.child);
    const upstreamPort = upstream.match[1];
    const upstreamHost = `127.0.0.1:${upstreamPort}`;
    const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`npm run build failed:\n${(build.stdout + build.stderr).slice(-2000)}`);
    const extra = Object.fromEntries((process.env.BENCH_OUTBOUND_IMAGEGATE_ENV ?? '').split(',').filter(Boolean).map((kv) => kv.split('=', 2) as [string, string]));
    const startImagegate = async (workers: string) => {
      const proxy = await startChild(
        ['dist/bin/main.js', 'outbound-proxy'],
        {
          PATH: process.env.PATH,
          ...aws.env('eu-west-1'),
          UPSTREAM_HOST: upstreamHost,
          UPSTREAM_SCHEME: 'http',
          LISTEN_ADDR: '127.0.0.1:0',
          METRICS_LISTEN_ADDR: '127.0.0.1:0',
          WORKERS: workers,
          ...extra,
        },
        /"listen":"[^"]*:(\d+)"/,
        'stderr',
      );
      children.push(proxy.child);
      return { host: `127.0.0.1:${proxy.match[1]}`, pid: proxy.child.pid! };
    };
    const single = await startImagegate('1');
    const auto = await startImagegate('auto');
    const goBinary = buildGoProxy(dir);
    const go = await startChild(['-upstream', upstreamHost, '-token', FIXED_TOKEN], { PATH: process.env.PATH }, /^(\d+)\n/, 'stdout', goBinary);
    children.push(go.child);
    const nginx1 = await startNginx(dir, upstreamPort, '1');
    nginxes.push(nginx1.child);
    const nginxAuto = await startNginx(dir, upstreamPort, 'auto');
    nginxes.push(nginxAuto.child);
    const minimal = await startChild(['-e', MINIMAL_PROXY(upstreamPort)], { PATH: process.env.PATH }, /^(\d+)\n/, 'stdout');
    children.push(minimal.child);
    const targets: Target[] = [
      { name: 'direct', host: upstreamHost, pids: [upstream.child.pid!] },
      { name: 'imagegate', host: single.host, pids: processTree(single.pid) },
      { name: `imagegate ×${AUTO}`, host: auto.host, pids: processTree(auto.pid) },
      { name: 'Go ReverseProxy', host: `127.0.0.1:${go.match[1]}`, pids: [go.child.pid!] },
      { name: 'nginx', host: nginx1.host, pids: processTree(nginx1.child.pid!) },
      { name: `nginx ×${AUTO}`, host: nginxAuto.host, pids: processTree(nginxAuto.child.pid!) },
      { name: 'bare Node', host: `127.0.0.1:${minimal.match[1]}`, pids: [minimal.child.pid!] },
    ];
    for (const t of targets.slice(1)) {
      const warm = await fetch(`http://${t.host}/?bytes=1`);
      if (warm.status !== 200) throw new Error(`${t.name} (${t.host}) warm-up answered ${warm.status}`);
    }
    // Warm-up (not recorded): V8 compiles the Node targets' hot paths during the first seconds of load.
    for (const t of targets) for (const bytes of BODIES) wrk(`http://${t.host}/?bytes=${bytes}`, 64, undefined, [], 2);
    const NAMES = targets.map((t) => t.name);
    const [I, IA, G, N, NA] = [1, 2, 3, 4, 5];

    const saturation: (string | number)[][] = [];
    const ratios: (string | number)[][] = [];
    const cpu: (string | number)[][] = [];
    const fixed: (string | number)[][] = [];
    const verdicts: string[] = [];
    const verdict = (what: string, value: number, target: number, atLeast: boolean, unit = '×') =>
      verdicts.push(`${what}: ${value.toFixed(3)}${unit} (target ${atLeast ? '≥' : '≤'} ${target.toFixed(2)}${unit}) ${(atLeast ? value >= target : value <= target) ? 'MET' : `MISSED by ${Math.abs(value - target).toFixed(3)}${unit}`}`);
    for (const bytes of BODIES) {
      const label = `${bytes / 1024} KiB`;
      const r = interleaved(targets, `/?bytes=${bytes}`, 64);
      saturation.push([label, ...r.map((x) => x.rps.toFixed(0)), ...r.map((x) => x.p99Ms.toFixed(2)), r.reduce((n, x) => n + x.errors, 0)]);
      const q = (a: number, b: number) => (r[a].rps / r[b].rps).toFixed(2);
      ratios.push([label, q(I, G), q(IA, G), q(I, N), q(IA, NA), q(IA, N), q(I, 0), q(IA, 0)]);
      cpu.push([label, ...r.map((x) => x.cpuUs.toFixed(0)), (r[I].cpuUs / r[G].cpuUs).toFixed(2), (r[I].cpuUs / r[N].cpuUs).toFixed(2), (r[IA].cpuUs / r[NA].cpuUs).toFixed(2)]);
      verdict(`${label} saturation, imagegate (1 process) / Go`, r[I].rps / r[G].rps, 1.2, true);
      verdict(`${label} saturation, imagegate ×${AUTO} / Go`, r[IA].rps / r[G].rps, 1.2, true);
      verdict(`${label} saturation, imagegate (1 process) / nginx (1 worker)`, r[I].rps / r[N].rps, 0.5, true);
      verdict(`${label} saturation, imagegate ×${AUTO} / nginx ×${AUTO}`, r[IA].rps / r[NA].rps, 0.5, true);

      const rate = interleaved(targets, `/?bytes=${bytes}`, 10, script);
      const added = rate.map((x) => x.p99Ms - rate[0].p99Ms);
      fixed.push([label, ...rate.map((x) => x.rps.toFixed(0)), ...rate.map((x) => x.p99Ms.toFixed(2)), ...added.slice(1).map((a) => a.toFixed(2)), rate.reduce((n, x) => n + x.errors, 0)]);
      verdict(`${label} at ~1,000 req/s, imagegate added p99 vs Go's (${added[G].toFixed(2)} ms)`, added[I], added[G], false, ' ms');
      verdict(`${label} at ~1,000 req/s, imagegate ×${AUTO} added p99 vs Go's (${added[G].toFixed(2)} ms)`, added[IA], added[G], false, ' ms');
    }
    const stsCalls = aws.calls('sts:GetWebIdentityToken');

    console.log(`\noutbound proxies vs direct (wrk, median of ${ROUNDS} interleaved ${SECONDS}s runs, 2 threads; one machine, ${AUTO} cores, ${process.arch}, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})\n`);
    console.log('Saturation, 64 connections (req/s, p99 ms)');
    console.log(table(['body', ...NAMES.map((n) => `${n} req/s`), ...NAMES.map((n) => `${n} p99`), 'errors'], saturation));
    console.log('\nRatios of requests/s (targets: ≥ 1.2 against Go, ≥ 0.5 against nginx)');
    console.log(table(['body', 'imagegate/Go', `imagegate ×${AUTO}/Go`, 'imagegate/nginx', `imagegate ×${AUTO}/nginx ×${AUTO}`, `imagegate ×${AUTO}/nginx`, 'imagegate/direct', `imagegate ×${AUTO}/direct`], ratios));
    console.log('\nCPU time per request at saturation (µs, utime + stime of the target\'s processes; direct = the upstream alone)');
    console.log(table(['body', ...NAMES.map((n) => `${n}`), 'imagegate/Go', 'imagegate/nginx', `imagegate ×${AUTO}/nginx ×${AUTO}`], cpu));
    console.log('\nFixed rate (10 connections × 1 request / 10 ms)');
    console.log(table(['body', ...NAMES.map((n) => `${n} req/s`), ...NAMES.map((n) => `${n} p99 ms`), ...NAMES.slice(1).map((n) => `${n} added p99`), 'errors'], fixed));
    console.log(`\nSTS GetWebIdentityToken calls during the run (two imagegate instances, one of ${AUTO} workers): ${stsCalls}`);
    console.log(verdicts.map((v) => `- ${v}`).join('\n'));
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(nginxes.map((n) => new Promise<void>((resolve) => {
      if (n.exitCode !== null) return resolve();
      n.once('exit', () => resolve());
      n.kill('SIGTERM'); // the master ends its workers; SIGKILL would orphan them
    })));
    await aws.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
