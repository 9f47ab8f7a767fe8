/**
 * `npm run bench:cri`: imagegate's image service against calling Docker Engine
 * directly with dockerode, in one run against the same engine, then imagegate's
 * `cri` backend against containerd, then ImageStatus on both backends through
 * grpc-go dialed as kubelet 1.30 dials (bench/cri-go.ts).
 *
 * Docker section (targets from the issue):
 * - ImageStatus p50/p99: at most 1 ms added at p50;
 * - ListImages with 200 images present: at most 1.5× Docker's own list;
 * - PullImage of an image already present.
 * imagegate normally answers ImageStatus and ListImages from its cache
 * invalidated by Docker's image events; the `cache off` rows show the same
 * calls going to the engine every time.
 *
 * Needs Docker Engine and the open loopback registry (.ci/run starts both).
 * Creates 200 tiny images `imagegate-bench/img:<n>` (docker import) and
 * removes them at the end. Environment: BENCH_CRI_CALLS (default 2000),
 * BENCH_CRI_LIST_CALLS (default 200), BENCH_CRI_PULLS (default 30).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type * as grpc from '@grpc/grpc-js';
import Docker from 'dockerode';
import { call, imageServiceClient } from '../src/cri/client/connect';
import { DockerBackend } from '../src/cri/docker/backend';
import { parseDockerHost } from '../src/cri/docker/engine';
import { ImageService } from '../src/cri/image-service';
import { CriServer } from '../src/cri/server';
import { services, testImages } from '../testing/services';
import { criForwardSection } from './cri-forward';
import { criGoSection } from './cri-go';

/** One line of the result table; times in milliseconds. */
export interface Row {
  section: string;
  operation: string;
  imagegateP50: number;
  imagegateP99: number;
  directP50: number;
  directP99: number;
  /** How the pair compares, e.g. `+0.31 ms` or `1.12×`, and the target. */
  verdict: string;
}

/** A named part of the benchmark; each returns its rows. */
export type Section = () => Promise<Row[]>;

const WARMUP = 50;

/** Times `calls` sequential calls of `a` and of `b`, alternating in blocks so drift hits both alike. */
export async function interleaved(calls: number, a: () => Promise<unknown>, b: () => Promise<unknown>, block = 50): Promise<[number[], number[]]> {
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < Math.min(WARMUP, calls); i++) {
    await a();
    await b();
  }
  for (let done = 0; done < calls; done += block) {
    for (const [k, fn] of [[0, a], [1, b]] as const) {
      for (let i = 0; i < Math.min(block, calls - done); i++) {
        const started = process.hrtime.bigint();
        await fn();
        times[k].push(Number(process.hrtime.bigint() - started) / 1e6);
      }
    }
  }
  return times;
}

/** The p-th percentile (nearest rank) of the values. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** `+0.31` or `-0.12`. */
export function signed(ms: number): string {
  return `${ms >= 0 ? '+' : ''}${ms.toFixed(2)}`;
}

/** Prints the rows as a Markdown table (paste-able into the README). */
export function printTable(rows: Row[]): void {
  const f = (ms: number) => ms.toFixed(2);
  const lines = [
    '| section | operation | imagegate p50 / p99 (ms) | direct p50 / p99 (ms) | imagegate vs direct (target) |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.section} | ${r.operation} | ${f(r.imagegateP50)} / ${f(r.imagegateP99)} | ${f(r.directP50)} / ${f(r.directP99)} | ${r.verdict} |`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

/** imagegate (Docker backend, over its Unix socket) against dockerode calling Docker Engine. */
export async function dockerSection(): Promise<Row[]> {
  const calls = Number(process.env.BENCH_CRI_CALLS ?? 2000);
  const listCalls = Number(process.env.BENCH_CRI_LIST_CALLS ?? 200);
  const pulls = Number(process.env.BENCH_CRI_PULLS ?? 30);
  const docker = new Docker({ socketPath: services.dockerSocket });
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-bench-cri-'));
  const backend = new DockerBackend({ endpoint: parseDockerHost(`unix://${services.dockerSocket}`)!, pullProgressTimeoutMs: 60_000 });
  const server = await CriServer.start({ socket: join(dir, 'imagegate.sock'), service: new ImageService({ backend }), gracePeriodMs: 1000 });
  const client = imageServiceClient(`unix://${server.socket}`) as unknown as grpc.Client;
  const rpc = (method: string, request: object) => call(client, method, request);
  const image = `${services.registryOpen}/${testImages.busybox}`;
  const rows: Row[] = [];
  const row = (operation: string, [gate, direct]: [number[], number[]], verdict: (g: number, d: number) => string) => {
    const g = percentile(gate, 50);
    const d = percentile(direct, 50);
    rows.push({ section: 'docker', operation, imagegateP50: g, imagegateP99: percentile(gate, 99), directP50: d, directP99: percentile(direct, 99), verdict: verdict(g, d) });
  };
  const created = await createImages(docker, 200);
  try {
    await rpc('PullImage', { image: { image } });
    row('ImageStatus', await interleaved(calls, () => rpc('ImageStatus', { image: { image } }), () => docker.getImage(image).inspect()), (g, d) =>
      `${signed(g - d)} ms (≤ 1 ms)`,
    );
    const present = (await docker.listImages()).length;
    row(`ListImages (${present} images)`, await interleaved(listCalls, () => rpc('ListImages', {}), () => docker.listImages(), 20), (g, d) =>
      `${(g / d).toFixed(2)}× (≤ 1.5×)`,
    );
    row('PullImage (present)', await interleaved(pulls, () => rpc('PullImage', { image: { image } }), () => dockerPull(docker, image), 5), (g, d) =>
      `${(g / d).toFixed(2)}×, ${signed(g - d)} ms`,
    );
    const uncached = await uncachedServer(dir);
    try {
      row('ImageStatus, cache off', await interleaved(calls, () => uncached.rpc('ImageStatus', { image: { image } }), () => docker.getImage(image).inspect()), (g, d) =>
        `${signed(g - d)} ms`,
      );
      row(`ListImages (${present} images), cache off`, await interleaved(listCalls, () => uncached.rpc('ListImages', {}), () => docker.listImages(), 20), (g, d) =>
        `${(g / d).toFixed(2)}×`,
      );
    } finally {
      await uncached.stop();
    }
  } finally {
    client.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    await removeImages(docker, created);
  }
  return rows;
}

/** A second imagegate whose Docker backend never caches, to show the cost of the engine round trip itself. */
async function uncachedServer(dir: string) {
  const backend = new DockerBackend({ endpoint: parseDockerHost(`unix://${services.dockerSocket}`)!, pullProgressTimeoutMs: 60_000, cache: false });
  const server = await CriServer.start({ socket: join(dir, 'uncached.sock'), service: new ImageService({ backend }), gracePeriodMs: 1000 });
  const client = imageServiceClient(`unix://${server.socket}`) as unknown as grpc.Client;
  return {
    rpc: (method: string, request: object) => call(client, method, request),
    stop: async () => {
      client.close();
      await server.stop();
    },
  };
}

/** Imports `count` distinct one-file images `imagegate-bench/img:<n>`; returns the names it created. */
async function createImages(docker: Docker, count: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, n) => `imagegate-bench/img:${n}`);
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++];
      const [repo, tag] = name.split(':');
      const stream = (await docker.importImage(Readable.from([tarWithOneFile(`${name}\n`)]) as never, { repo, tag })) as NodeJS.ReadableStream;
      await new Promise((resolve, reject) => docker.modem.followProgress(stream, (err) => (err ? reject(err) : resolve(undefined))));
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return names;
}

async function removeImages(docker: Docker, names: string[]): Promise<void> {
  for (const name of names) await docker.getImage(name).remove().catch(() => undefined);
}

/** `docker pull` through dockerode, waiting for the end of the progress stream. */
async function dockerPull(docker: Docker, image: string): Promise<void> {
  const stream = (await docker.pull(image)) as NodeJS.ReadableStream;
  await new Promise((resolve, reject) => docker.modem.followProgress(stream, (err) => (err ? reject(err) : resolve(undefined))));
}

/** A tar archive holding one small file `id`, enough for `docker import` to make a distinct image. */
function tarWithOneFile(content: string): Buffer {
  const body = Buffer.from(content);
  const header = Buffer.alloc(512);
  header.write('id', 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(body.length.toString(8).padStart(11, '0') + '\0', 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  const sum = header.reduce((s, b) => s + b, 0);
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const padding = Buffer.alloc((512 - (body.length % 512)) % 512);
  return Buffer.concat([header, body, padding, Buffer.alloc(1024)]);
}

/** The sections `npm run bench:cri` runs, in order. Add a backend's section here. */
export const sections: Record<string, Section> = {
  docker: dockerSection,
  cri: criForwardSection,
  'grpc-go': criGoSection,
};

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const [name, section] of Object.entries(sections)) {
    process.stderr.write(`bench:cri: ${name}…\n`);
    rows.push(...(await section()));
  }
  printTable(rows);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: Error) => {
      process.stderr.write(`bench:cri failed: ${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
}
