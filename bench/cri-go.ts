/**
 * The `grpc-go` section of `npm run bench:cri`: ImageStatus through the client
 * kubelet uses, grpc-go dialed as kubelet ≤ 1.30 dials (`:authority` = the
 * socket path, which imagegate normalises on the way in; see
 * src/cri/authority/), in one run beside the same client calling containerd's
 * own socket and beside dockerode calling Docker Engine. Target: imagegate's
 * added p50 at most 1 ms. Both columns pay the same hop to the Go process, so
 * the difference is imagegate's. Runs alone with `npx tsx bench/cri-go.ts`.
 * Environment: BENCH_CRI_CALLS (default 2000).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { DockerBackend } from '../src/cri/docker/backend';
import { parseDockerHost } from '../src/cri/docker/engine';
import { CriForwardBackend } from '../src/cri/cri/backend';
import type { ImageBackend } from '../src/cri/image-backend';
import { ImageService } from '../src/cri/image-service';
import { CriServer } from '../src/cri/server';
import { GoCriClient } from '../testing/go-cri-client';
import { services, testImages } from '../testing/services';
import { interleaved, percentile, printTable, signed, type Row } from './cri';

/** imagegate on both backends, reached by grpc-go as kubelet 1.30 reaches it. */
export async function criGoSection(): Promise<Row[]> {
  const calls = Number(process.env.BENCH_CRI_CALLS ?? 2000);
  const image = `${services.registryOpen}/${testImages.busybox}`;
  const request = { image: { image } };
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-bench-cri-go-'));
  const rows: Row[] = [];
  const started: Array<{ close(): Promise<void> } | { stop(): Promise<void> }> = [];
  const gateOver = async (name: string, backend: ImageBackend) => {
    const server = await CriServer.start({ socket: join(dir, `${name}.sock`), service: new ImageService({ backend }), gracePeriodMs: 1000 });
    started.push(server);
    const client = await GoCriClient.start(server.socket, 'path');
    started.push(client);
    await client.call('PullImage', request);
    return client;
  };
  const row = (section: string, [gate, direct]: [number[], number[]], target: string) => {
    const g = percentile(gate, 50);
    const d = percentile(direct, 50);
    rows.push({ section, operation: 'ImageStatus', imagegateP50: g, imagegateP99: percentile(gate, 99), directP50: d, directP99: percentile(direct, 99), verdict: `${signed(g - d)} ms (${target})` });
  };
  try {
    const docker = new Docker({ socketPath: services.dockerSocket });
    const viaDocker = await gateOver('docker', new DockerBackend({ endpoint: parseDockerHost(`unix://${services.dockerSocket}`)!, pullProgressTimeoutMs: 60_000 }));
    row('grpc-go as kubelet 1.30 → docker', await interleaved(calls, () => viaDocker.call('ImageStatus', request), () => docker.getImage(image).inspect()), '≤ 1 ms vs dockerode');
    const containerd = await GoCriClient.start(services.containerdSocket, 'path');
    started.push(containerd);
    await containerd.call('PullImage', request);
    const viaCri = await gateOver('cri', new CriForwardBackend({ endpoint: `unix://${services.containerdSocket}` }));
    row('grpc-go as kubelet 1.30 → cri (containerd)', await interleaved(calls, () => viaCri.call('ImageStatus', request), () => containerd.call('ImageStatus', request)), '≤ 1 ms vs containerd, same client');
  } finally {
    for (const part of started.reverse()) await ('close' in part ? part.close() : part.stop());
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (require.main === module) {
  criGoSection().then(
    (rows) => {
      printTable(rows);
      process.exit(0);
    },
    (err: Error) => {
      process.stderr.write(`bench cri-go failed: ${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
}
