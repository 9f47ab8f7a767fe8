/**
 * The `cri` section of `npm run bench:cri`: ImageStatus and ListImages
 * through imagegate's `cri` backend against calling containerd's CRI socket
 * directly, in one run with the same gRPC client, so the difference is
 * imagegate's hop. Target: at most 1 ms added at p50. Needs the CI's
 * containerd (.ci/services/40-containerd.sh) and open registry. Runs alone
 * with `npx tsx bench/cri-forward.ts`. Environment: BENCH_CRI_CALLS (default 2000).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { call, imageServiceClient } from '../src/cri/client/connect';
import { CriForwardBackend } from '../src/cri/cri/backend';
import { ImageService } from '../src/cri/image-service';
import { CriServer } from '../src/cri/server';
import { services, testImages } from '../testing/services';
import { interleaved, percentile, printTable, type Row } from './cri';

/** imagegate (`cri` backend, over its Unix socket) against the same gRPC client calling containerd's socket. */
export async function criForwardSection(): Promise<Row[]> {
  const calls = Number(process.env.BENCH_CRI_CALLS ?? 2000);
  const endpoint = `unix://${services.containerdSocket}`;
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-bench-cri-forward-'));
  const backend = new CriForwardBackend({ endpoint });
  const server = await CriServer.start({ socket: join(dir, 'imagegate.sock'), service: new ImageService({ backend }), gracePeriodMs: 1000 });
  const direct = imageServiceClient(endpoint) as unknown as grpc.Client;
  const gate = imageServiceClient(`unix://${server.socket}`) as unknown as grpc.Client;
  const rows: Row[] = [];
  try {
    const images = [testImages.busybox, testImages.userUid, testImages.userName, testImages.multi[0]].map((name) => `${services.registryOpen}/${name}`);
    for (const image of images) await call(direct, 'PullImage', { image: { image } });
    const present = (await call<object, { images: unknown[] }>(direct, 'ListImages', {})).images.length;
    const status = { image: { image: images[0] } };
    for (const [operation, method, request] of [
      ['ImageStatus', 'ImageStatus', status],
      [`ListImages (${present} images)`, 'ListImages', {}],
    ] as const) {
      const [viaGate, viaDirect] = await interleaved(calls, () => call(gate, method, request), () => call(direct, method, request));
      const g = percentile(viaGate, 50);
      const d = percentile(viaDirect, 50);
      rows.push({
        section: 'cri (containerd)',
        operation,
        imagegateP50: g,
        imagegateP99: percentile(viaGate, 99),
        directP50: d,
        directP99: percentile(viaDirect, 99),
        verdict: `+${(g - d).toFixed(2)} ms (≤ 1 ms)`,
      });
    }
  } finally {
    direct.close();
    gate.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (require.main === module) {
  criForwardSection().then(
    (rows) => {
      printTable(rows);
      process.exit(0);
    },
    (err: Error) => {
      process.stderr.write(`bench cri-forward failed: ${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
}
