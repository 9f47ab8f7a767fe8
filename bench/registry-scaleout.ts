/**
 * bench:registry, scale-out section (issue 15): manifest-by-digest requests
 * with a bearer token, through a real nginx (round robin, keep-alive) to 1, 2
 * and 3 facade replicas sharing one config and one token key, driven by wrk
 * (2 threads; 64 connections saturating the fleet, then 10 connections paced
 * to about 1,000 requests/s). On a 2-core machine the aggregate cannot grow
 * with replicas, so the figure that must hold is the cost: CPU-seconds of the
 * facade processes (utime + stime from /proc) per 10,000 requests, which must
 * stay within 10 % of the single-replica figure (nothing is coordinated per
 * request), with no request failing. The three fleets run side by side and
 * are measured in turn, round after round (3 rounds); each figure is the
 * median of its rounds. Upstream: the CI's `auth: token` docker-registry
 * (the facade's manifest cache serves repeated digests).
 * The peer, measured in the same rounds under the same two loads: nginx
 * itself serving the same manifest bytes with 1, 2 and 3 worker processes
 * (SO_REUSEPORT), its workers' CPU per 10,000 requests against its own
 * single worker: what spreading one load over more processes costs a server
 * written in C for exactly that.
 * A request counts as failed on a non-2xx answer or a socket error (wrk --timeout 10s).
 * Environment: BENCH_REGISTRY_SECONDS (wrk duration per measurement, default 10).
 * Run alone with `tsx bench/registry-scaleout.ts`.
 */
import { type ChildProcess, execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Fleet, writeEcKey } from '../testing/registry/fleet';
import { upstreams } from '../testing/registry/upstreams';
import { freePort } from '../testing/ports';
import { requireTcp } from '../testing/services';
import { spawnNginx } from './nginx-peer';
import { childrenOf, cpuSeconds, sleeps } from './proc';

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_REGISTRY_SECONDS ?? 10);
const ROUNDS = 3;
const DOCKER_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
interface Measure {
  rps: number;
  requests: number;
  failed: number;
  cpuPer10k: number;
  /** Event-loop sleeps (voluntary context switches) of all facade processes per request. */
  sleepsPerRequest: number;
}

/** Saturated: 64 connections as fast as they go. Paced: 10 connections, each waiting 10 ms after every answer (about 1,000 requests/s, below every fleet's capacity). */
type Load = 'saturated' | 'paced';

/** What wrk is pointed at: a fleet of facades behind nginx, or the nginx peer; `pids` are the processes whose CPU counts. */
interface Server {
  url: string;
  pids(): number[];
}

async function measure(server: Server, token: string, digest: string, load: Load, pacing: string): Promise<Measure> {
  const pids = server.pids();
  const before = pids.map(cpuSeconds);
  const sleptBefore = pids.map(sleeps);
  const shape = load === 'saturated' ? ['-t2', '-c64', '--timeout', '10s'] : ['-t2', '-c10', '--timeout', '10s', '-s', pacing];
  const { stdout } = await run('wrk', [...shape, `-d${SECONDS}s`, '-H', `Authorization: Bearer ${token}`, '-H', `Accept: ${DOCKER_V2}`, `${server.url}/v2/up/test/busybox/manifests/${digest}`], { timeout: (SECONDS + 30) * 1000 });
  const cpu = pids.map(cpuSeconds).reduce((sum, c, i) => sum + c - before[i], 0);
  const slept = pids.map(sleeps).reduce((sum, c, i) => sum + c - sleptBefore[i], 0);
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  if (!requests || !rps) throw new Error(`wrk: ${stdout}`);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const failed = non2xx + (socket ? socket.slice(1).reduce((s, n) => s + Number(n), 0) : 0);
  return { rps, requests, failed, cpuPer10k: (cpu / requests) * 10_000, sleepsPerRequest: slept / requests };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/**
 * The peer: nginx itself serving the same manifest bytes (a static file, the
 * same headers that matter) with `workers` worker processes, each listening
 * with SO_REUSEPORT so that the kernel spreads connections over them as the
 * balancer spreads requests over replicas. Its workers' CPU per request as
 * they grow shows what spreading one load over more processes costs a server
 * built for it.
 */
export async function startNginxPeer(dir: string, workers: number, digest: string, manifest: Buffer): Promise<{ server: Server; child: ChildProcess }> {
  const root = join(dir, `nginx-peer-${workers}`);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'manifest.json'), manifest);
  const port = await freePort();
  const child = spawnNginx(
    root,
    workers,
    `  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${port} reuseport;
    location = /v2/up/test/busybox/manifests/${digest} {
      default_type ${DOCKER_V2};
      add_header Docker-Content-Digest ${digest};
      add_header Docker-Distribution-Api-Version registry/2.0;
      alias ${root}/manifest.json;
    }
  }`,
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`nginx peer exited with ${child.exitCode}`);
    const status = await fetch(`${url}/v2/up/test/busybox/manifests/${digest}`).then((r) => r.status, () => 0);
    if (status === 200) break;
    if (i > 100) {
      child.kill('SIGQUIT');
      throw new Error(`nginx peer did not answer 200 (last: ${status})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, server: { url, pids: () => childrenOf(child.pid!) } };
}

/** Runs the section and prints its table. */
export async function scaleOut(): Promise<void> {
  await requireTcp('token upstream', upstreams.token);
  await requireTcp('token issuer', upstreams.issuer);
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-bench-scaleout-'));
  const key = writeEcKey(join(dir, 'token-key.pem'));
  const config = () => ({
    metricsListen: '127.0.0.1:0',
    trustProxy: 'loopback',
    token: { keys: [{ id: 'bench', file: key, sign: true }] },
    upstreams: [{ name: 'bench', prefix: 'up', url: `http://${upstreams.token}`, auth: { basic: { username: upstreams.user, password: { value: upstreams.password } } }, realmHosts: [upstreams.issuer] }],
    auth: { chain: [{ static: { users: [{ username: 'bench', password: 'bench-password' }] } }], rules: [{ identity: 'bench', repositories: ['**'] }] },
  });
  const fleets: Fleet[] = [];
  const peers: ChildProcess[] = [];
  try {
    for (const n of [1, 2, 3]) fleets.push(await Fleet.start({ dir: join(dir, `fleet-${n}`), replicas: n, config }));
    const auth = `Basic ${Buffer.from('bench:bench-password').toString('base64')}`;
    // A fresh token for every measurement: the run outlasts a token's 5 minutes (expired ones were counted as failed requests).
    const freshToken = async () => {
      const tokenRes = await fetch(`${fleets[0].url}/token?service=imagegate-registry&scope=${encodeURIComponent('repository:up/test/busybox:pull')}`, { headers: { authorization: auth } });
      return ((await tokenRes.json()) as { token: string }).token;
    };
    const token = await freshToken();
    const manifest = await fetch(`${fleets[0].url}/v2/up/test/busybox/manifests/1`, { headers: { authorization: `Bearer ${token}`, accept: DOCKER_V2 } });
    const digest = String(manifest.headers.get('docker-content-digest'));
    if (!manifest.ok || !digest.startsWith('sha256:')) throw new Error(`manifest through the fleet answered ${manifest.status}`);
    const manifestBytes = Buffer.from(await manifest.arrayBuffer());
    const nginxPeers: Server[] = [];
    for (const n of [1, 2, 3]) {
      const { child, server } = await startNginxPeer(dir, n, digest, manifestBytes);
      peers.push(child);
      nginxPeers.push(server);
    }
    const servers: Server[] = [...fleets.map((f) => ({ url: f.url, pids: () => f.replicas.map((r) => r.process!.child.pid!) })), ...nginxPeers];
    // One token for all: signed by fleet 1's replica, accepted by every replica (one shared key). Warm every replica's manifest cache.
    for (const f of fleets) for (let i = 0; i < f.replicas.length * 2; i++) await fetch(`${f.url}/v2/up/test/busybox/manifests/${digest}`, { headers: { authorization: `Bearer ${token}`, accept: DOCKER_V2 } }).then((r) => r.arrayBuffer());
    // JIT and connection warm-up of every replica, not measured.
    for (const f of servers) await run('wrk', ['-t2', '-c64', '-d3s', '-H', `Authorization: Bearer ${token}`, '-H', `Accept: ${DOCKER_V2}`, `${f.url}/v2/up/test/busybox/manifests/${digest}`]);
    const pacing = join(dir, 'pace.lua');
    writeFileSync(pacing, 'function delay()\n  return 10\nend\n');
    const loads: Load[] = ['saturated', 'paced'];
    const results = loads.map(() => servers.map((): Measure[] => []));
    for (let round = 0; round < ROUNDS; round++) for (const [l, load] of loads.entries()) for (const [i, f] of servers.entries()) results[l][i].push(await measure(f, await freshToken(), digest, load, pacing));
    // Facade fleets first, then the nginx peer; each compared with its own single process.
    const rows = results.flatMap((byServer, l) => {
      const fleetBase = median(byServer[0].map((m) => m.cpuPer10k));
      const peerBase = median(byServer[3].map((m) => m.cpuPer10k));
      return byServer.map((rs, i) => {
        const peer = i >= 3;
        const base = peer ? peerBase : fleetBase;
        const cpu = median(rs.map((m) => m.cpuPer10k));
        const ratios = rs.map((m) => m.cpuPer10k / base);
        return [
          peer ? `nginx peer, ${i - 2} worker${i > 3 ? 's' : ''}` : `facade, ${i + 1} replica${i > 0 ? 's' : ''}`,
          loads[l] === 'saturated' ? '64 conns, saturated' : '10 conns, ~1,000 req/s',
          `${median(rs.map((m) => m.rps)).toFixed(0)} req/s`,
          `${cpu.toFixed(2)} s`,
          `${(cpu / base).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`,
          i === 0 || peer ? '' : '≤ 1.10×',
          median(rs.map((m) => m.sleepsPerRequest)).toFixed(2),
          `${rs.reduce((s, m) => s + m.failed, 0)} of ${rs.reduce((s, m) => s + m.requests, 0)}`,
        ];
      });
    });
    const head = ['processes', 'load (manifest by digest, bearer)', 'requests/s', 'CPU per 10k requests', 'ratio to 1 process', 'target', 'event-loop sleeps per request', 'failed requests'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
    process.stdout.write(['', 'scale-out (nginx round robin, shared key):', line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n') + '\n');
  } finally {
    for (const p of peers) {
      const exited = new Promise((r) => p.once('exit', r));
      if (p.exitCode === null && p.kill('SIGQUIT')) await exited;
    }
    for (const f of fleets) await f.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  scaleOut().catch((err: Error) => {
    process.stderr.write(`bench:registry scale-out failed: ${err.message}\n`);
    process.exit(1);
  });
}
