/**
 * ImageStatus and ListImages latency through imagegate's `cri` backend versus
 * calling containerd's CRI socket directly, in one run with the same client
 * library, so the difference is imagegate's hop. Target: at most 1 ms added at
 * p50. Needs the CI's containerd (.ci/services/40-containerd.sh) and open
 * registry. Run alone with `npx tsx bench/cri-forward.ts`, or from
 * `npm run bench:cri`. Environment: BENCH_CRI_FORWARD_CALLS (default 2000).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CriForwardBackend } from '../src/cri/forward/backend';
import { ImageService } from '../src/cri/image-service';
import { CriServer } from '../src/cri/server';
import { CriTestClient } from '../test/support/containerd';
import { services, testImages } from '../test/support/services';

export interface ForwardRow {
  rpc: string;
  directP50: number;
  directP99: number;
  imagegateP50: number;
  imagegateP99: number;
}

const WARMUP = 200;

/** Runs the comparison and returns one row per RPC (milliseconds). */
export async function benchCriForward(calls = Number(process.env.BENCH_CRI_FORWARD_CALLS ?? 2000)): Promise<ForwardRow[]> {
  const endpoint = `unix://${services.containerdSocket}`;
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-bench-cri-'));
  const backend = new CriForwardBackend({ endpoint });
  const server = await CriServer.start({ socket: join(dir, 'imagegate.sock'), service: new ImageService({ backend }), gracePeriodMs: 1000 });
  const direct = new CriTestClient(endpoint);
  const gate = new CriTestClient(`unix://${server.socket}`);
  try {
    const images = [testImages.busybox, testImages.userUid, testImages.userName, testImages.multi[0]].map((n) => `${services.registryOpen}/${n}`);
    for (const image of images) await direct.call('pullImage', { image: { image } });
    const status = { image: { image: images[0] } };
    const rows: ForwardRow[] = [];
    for (const [rpc, run] of [
      ['ImageStatus', (c: CriTestClient) => c.call('imageStatus', status)],
      ['ListImages', (c: CriTestClient) => c.call('listImages', {})],
    ] as const) {
      const [directMs, gateMs] = await interleaved(calls, () => run(direct), () => run(gate));
      rows.push({ rpc, directP50: pct(directMs, 50), directP99: pct(directMs, 99), imagegateP50: pct(gateMs, 50), imagegateP99: pct(gateMs, 99) });
    }
    return rows;
  } finally {
    direct.close();
    gate.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Times `calls` sequential calls of each, alternating in blocks of 100 so drift hits both alike. */
async function interleaved(calls: number, a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number[], number[]]> {
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < WARMUP; i++) {
    await a();
    await b();
  }
  for (let done = 0; done < calls; done += 100) {
    for (const [k, fn] of [[0, a], [1, b]] as const) {
      for (let i = 0; i < Math.min(100, calls - done); i++) {
        const t = process.hrtime.bigint();
        await fn();
        times[k].push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }
  }
  return times;
}

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** The rows as a Markdown table, as recorded in the README. */
export function formatForwardTable(rows: ForwardRow[]): string {
  const f = (ms: number) => ms.toFixed(3);
  const lines = [
    '| RPC (containerd) | direct p50 ms | direct p99 ms | imagegate cri p50 ms | imagegate cri p99 ms | added p50 ms |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.rpc} | ${f(r.directP50)} | ${f(r.directP99)} | ${f(r.imagegateP50)} | ${f(r.imagegateP99)} | ${f(r.imagegateP50 - r.directP50)} |`),
  ];
  return lines.join('\n');
}

if (require.main === module) {
  benchCriForward().then(
    (rows) => {
      console.log(formatForwardTable(rows));
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
