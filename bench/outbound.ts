/**
 * `npm run bench:outbound`: requests through `imagegate outbound-proxy` against
 * the same loopback upstream directly, in one run, with wrk.
 *
 *  1. Saturation: 64 connections, 1 KiB and 64 KiB response bodies; requests/s
 *     and p99 (target: proxy ≥ 0.5× direct requests/s).
 *  2. Fixed rate, 1,000 requests/s (wrk has no rate option: a Lua `delay()` of
 *     10 ms on each of 10 connections); p99 (target: proxy adds ≤ 2 ms).
 *
 * The proxy is the real CLI, compiled (`npm run build`, as the image runs it),
 * as its own process, pinned to the upstream,
 * with tokens from the AWS stand-in (minted once, then served from the cache);
 * the upstream is a plain node:http server in a process of its own. A third
 * column is the floor for any Node proxy on the same machine: a 6-line
 * node:http pass-through with no token, no header handling and no metrics.
 * Each figure is the median of BENCH_OUTBOUND_ROUNDS (default 3) wrk runs of
 * BENCH_OUTBOUND_SECONDS (default 4), the targets interleaved.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsStandIn } from '../test/aws';

const SECONDS = Number(process.env.BENCH_OUTBOUND_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_OUTBOUND_ROUNDS ?? 3);
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
}

/** Starts a child and resolves with the first stdout/stderr line matching `ready`. */
function startChild(args: string[], env: NodeJS.ProcessEnv, ready: RegExp, stream: 'stdout' | 'stderr'): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
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

function wrk(url: string, connections: number, script?: string): WrkResult {
  const args = ['-t', '2', '-c', String(connections), '-d', `${SECONDS}s`, '--latency', ...(script ? ['-s', script] : []), url];
  const out = spawnSync('wrk', args, { encoding: 'utf8', timeout: (SECONDS + 30) * 1000 });
  if (out.status !== 0) throw new Error(`wrk failed: ${out.stderr || out.error?.message}`);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out.stdout);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(out.stdout);
  if (!rps || !p99) throw new Error(`cannot read wrk output:\n${out.stdout}`);
  const errors = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out.stdout)?.[1] ?? 0) + Number(/Socket errors:.*?timeout (\d+)/.exec(out.stdout)?.[1] ?? 0);
  return { rps: Number(rps[1]), p99Ms: toMs(p99[1], p99[2]), errors };
}

/**
 * Runs wrk against each URL in turn, ROUNDS times (so that a burst of load on
 * the machine hits every target alike), and keeps each target's median
 * requests/s and median p99.
 */
function interleaved(urls: string[], connections: number, script?: string): WrkResult[] {
  const runs: WrkResult[][] = urls.map(() => []);
  for (let round = 0; round < ROUNDS; round++) urls.forEach((url, i) => runs[i].push(wrk(url, connections, script)));
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  return runs.map((r) => ({ rps: median(r.map((x) => x.rps)), p99Ms: median(r.map((x) => x.p99Ms)), errors: r.reduce((n, x) => n + x.errors, 0) }));
}

function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map((r) => line(r.map(String)))].join('\n');
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-outbound-'));
  const script = join(dir, 'rate.lua');
  writeFileSync(script, '-- 10 connections x one request per 10 ms = 1,000 requests/s\nfunction delay()\n  return 10\nend\n');
  const aws = await AwsStandIn.start();
  const children: ChildProcess[] = [];
  try {
    const upstream = await startChild(['-e', UPSTREAM], { PATH: process.env.PATH }, /^(\d+)\n/, 'stdout');
    children.push(upstream.child);
    const upstreamHost = `127.0.0.1:${upstream.match[1]}`;
    const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`npm run build failed:\n${(build.stdout + build.stderr).slice(-2000)}`);
    const proxy = await startChild(
      ['dist/src/cli/main.js', 'outbound-proxy'],
      {
        PATH: process.env.PATH,
        ...aws.env('eu-west-1'),
        UPSTREAM_HOST: upstreamHost,
        UPSTREAM_SCHEME: 'http',
        LISTEN_ADDR: '127.0.0.1:0',
        METRICS_LISTEN_ADDR: '127.0.0.1:0',
      },
      /"listen":"[^"]*:(\d+)"/,
      'stderr',
    );
    children.push(proxy.child);
    const proxyHost = `127.0.0.1:${proxy.match[1]}`;
    const minimal = await startChild(['-e', MINIMAL_PROXY(upstream.match[1])], { PATH: process.env.PATH }, /^(\d+)\n/, 'stdout');
    children.push(minimal.child);
    const minimalHost = `127.0.0.1:${minimal.match[1]}`;
    const warm = await fetch(`http://${proxyHost}/?bytes=1`);
    if (warm.status !== 200) throw new Error(`proxy warm-up answered ${warm.status}`);

    const saturation: (string | number)[][] = [];
    const fixed: (string | number)[][] = [];
    const verdicts: string[] = [];
    for (const bytes of BODIES) {
      const label = `${bytes / 1024} KiB`;
      const urls = [upstreamHost, minimalHost, proxyHost].map((host) => `http://${host}/?bytes=${bytes}`);
      const [direct, floor, through] = interleaved(urls, 64);
      const ratio = through.rps / direct.rps;
      saturation.push([
        label, direct.rps.toFixed(0), floor.rps.toFixed(0), through.rps.toFixed(0), ratio.toFixed(2), (floor.rps / direct.rps).toFixed(2),
        direct.p99Ms.toFixed(2), floor.p99Ms.toFixed(2), through.p99Ms.toFixed(2), direct.errors + floor.errors + through.errors,
      ]);
      verdicts.push(`${label} saturation: proxy/direct ${ratio.toFixed(2)} (target ≥ 0.50) ${ratio >= 0.5 ? 'MET' : 'MISSED'}; a bare Node pass-through reaches ${(floor.rps / direct.rps).toFixed(2)}`);

      const [directRate, floorRate, throughRate] = interleaved(urls, 10, script);
      const added = throughRate.p99Ms - directRate.p99Ms;
      fixed.push([
        label, directRate.rps.toFixed(0), throughRate.rps.toFixed(0), directRate.p99Ms.toFixed(2), floorRate.p99Ms.toFixed(2), throughRate.p99Ms.toFixed(2),
        added.toFixed(2), directRate.errors + floorRate.errors + throughRate.errors,
      ]);
      verdicts.push(`${label} at ~1,000 req/s: added p99 ${added.toFixed(2)} ms (target ≤ 2 ms) ${added <= 2 ? 'MET' : 'MISSED'}; bare Node pass-through adds ${(floorRate.p99Ms - directRate.p99Ms).toFixed(2)} ms`);
    }
    const stsCalls = aws.calls('sts:GetWebIdentityToken');

    console.log(`\noutbound proxy vs direct (wrk, median of ${ROUNDS} interleaved ${SECONDS}s runs, 2 threads; one machine, ${process.arch}, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})\n`);
    console.log('Saturation, 64 connections');
    console.log(table(['body', 'direct req/s', 'bare node req/s', 'imagegate req/s', 'imagegate/direct', 'bare/direct', 'direct p99 ms', 'bare p99 ms', 'imagegate p99 ms', 'errors'], saturation));
    console.log('\nFixed rate (10 connections × 1 request / 10 ms)');
    console.log(table(['body', 'direct req/s', 'imagegate req/s', 'direct p99 ms', 'bare p99 ms', 'imagegate p99 ms', 'imagegate added p99 ms', 'errors'], fixed));
    console.log(`\nSTS GetWebIdentityToken calls during the run: ${stsCalls}`);
    console.log(verdicts.map((v) => `- ${v}`).join('\n'));
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await aws.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
