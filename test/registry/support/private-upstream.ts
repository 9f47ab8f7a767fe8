/**
 * A docker-registry of a test's own (the same /usr/bin/docker-registry the CI
 * runs), open, on a free loopback port, with its storage and access log in a
 * temporary folder: for counting the blob GETs a facade makes, and for
 * stopping the upstream without touching the shared servers. Images and blobs
 * are written with the registry's own push API (a POST and a PUT per blob).
 * Also a relay to put in front of it that can corrupt one byte of a blob or
 * throttle it (a faulty or slow upstream).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { countRequests } from '../../support/cri-registry-log';
import { freePort } from '../../../testing/ports';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';


export interface PushedImage {
  manifestDigest: string;
  configDigest: string;
  layerDigests: string[];
}

export class PrivateUpstream {
  #child?: ChildProcess;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get hostPort(): string {
    return `127.0.0.1:${this.port}`;
  }

  get log(): string {
    return join(this.dir, 'registry.log');
  }

  static async start(): Promise<PrivateUpstream> {
    const dir = mkdtempSync(join(tmpdir(), 'imagegate-upstream-'));
    const upstream = new PrivateUpstream(dir, await freePort());
    mkdirSync(join(dir, 'storage'));
    writeFileSync(
      join(dir, 'config.yml'),
      [
        'version: 0.1',
        'log: {level: info, formatter: text, accesslog: {disabled: false}}',
        `storage: {filesystem: {rootdirectory: ${join(dir, 'storage')}}, delete: {enabled: true}}`,
        `http: {addr: "127.0.0.1:${upstream.port}", secret: imagegate-test-private}`,
      ].join('\n'),
    );
    await upstream.resume();
    return upstream;
  }

  /** Starts (again) the registry process over the same storage and port. */
  async resume(): Promise<void> {
    const out = join(this.dir, 'registry.log');
    writeFileSync(out, '', { flag: 'a' });
    const started = Date.now();
    // docker-registry writes its log, access log included, to stderr.
    this.#child = spawn('/bin/sh', ['-c', `exec /usr/bin/docker-registry serve ${join(this.dir, 'config.yml')} >>${out} 2>&1`], { stdio: 'ignore' });
    while (Date.now() - started < 10_000) {
      const ok = await fetch(`http://${this.hostPort}/v2/`).then((r) => r.status === 200, () => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`docker-registry did not start on ${this.hostPort}: ${readFileSync(out, 'utf8').slice(-2000)}`);
  }

  /** Stops the registry process (the upstream is then unreachable). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Blob GETs in the access log, for one repository. */
  blobGets(repository: string): number {
    return countRequests(this.log, ['GET'], `/v2/${repository}/blobs/`);
  }

  /** Pushes one blob into a repository; returns its digest. */
  async pushBlob(repository: string, data: Buffer): Promise<string> {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const started = await fetch(`http://${this.hostPort}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    if (started.status !== 202) throw new Error(`upload start answered ${started.status}`);
    const location = new URL(String(started.headers.get('location')), `http://${this.hostPort}`);
    location.searchParams.set('digest', digest);
    const res = await fetch(location, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: data });
    if (res.status !== 201) throw new Error(`push of ${digest} answered ${res.status}: ${await res.text()}`);
    return digest;
  }

  /**
   * Pushes a pullable image of its own (a fresh random file in one gzip
   * layer, so no client already holds its layers) as `repository:tag`.
   */
  async pushImage(repository: string, tag: string, layerBytes = 64 * 1024): Promise<PushedImage> {
    const work = mkdtempSync(join(tmpdir(), 'imagegate-image-'));
    try {
      mkdirSync(join(work, 'root'));
      writeFileSync(join(work, 'root', 'payload.bin'), randomBytes(layerBytes));
      execFileSync('tar', ['-C', join(work, 'root'), '-cf', join(work, 'layer.tar'), 'payload.bin']);
      const tar = readFileSync(join(work, 'layer.tar'));
      const layer = gzipSync(tar);
      const layerDigest = await this.pushBlob(repository, layer);
      const config = Buffer.from(
        JSON.stringify({
          architecture: 'amd64',
          os: 'linux',
          config: { Cmd: ['/payload.bin'] },
          rootfs: { type: 'layers', diff_ids: [`sha256:${createHash('sha256').update(tar).digest('hex')}`] },
        }),
      );
      const configDigest = await this.pushBlob(repository, config);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length }],
        }),
      );
      const res = await fetch(`http://${this.hostPort}/v2/${repository}/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': OCI_MANIFEST }, body: manifest });
      if (res.status !== 201) throw new Error(`manifest push answered ${res.status}: ${await res.text()}`);
      return { manifestDigest: `sha256:${createHash('sha256').update(manifest).digest('hex')}`, configDigest, layerDigests: [layerDigest] };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
}

/**
 * An HTTP relay in front of an upstream: passes everything through, except
 * that with `corrupt` set it flips one byte in the middle of every blob body,
 * and with `bytesPerSecond` set it paces blob bodies.
 */
export class FaultyRelay {
  corrupt = false;
  bytesPerSecond = 0;
  blobGets = 0;

  private constructor(
    private readonly server: http.Server,
    readonly port: number,
  ) {}

  get hostPort(): string {
    return `127.0.0.1:${this.port}`;
  }

  static async start(target: string): Promise<FaultyRelay> {
    const [host, port] = target.split(':');
    let relay!: FaultyRelay;
    const server = http.createServer((req, res) => {
      const isBlob = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '');
      if (isBlob) relay.blobGets++;
      const up = http.request({ host, port: Number(port), path: req.url, method: req.method, headers: req.headers }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        if (!isBlob || upRes.statusCode !== 200) return void upRes.pipe(res);
        const length = Number(upRes.headers['content-length']);
        const flipAt = Math.floor(length / 2);
        let offset = 0;
        upRes.on('data', (chunk: Buffer) => {
          if (relay.corrupt && flipAt >= offset && flipAt < offset + chunk.length) {
            chunk = Buffer.from(chunk);
            chunk[flipAt - offset] ^= 0xff;
          }
          offset += chunk.length;
          if (!res.write(chunk)) upRes.pause();
          if (relay.bytesPerSecond > 0) {
            upRes.pause();
            setTimeout(() => upRes.resume(), (chunk.length / relay.bytesPerSecond) * 1000);
          }
        });
        res.on('drain', () => relay.bytesPerSecond === 0 && upRes.resume());
        upRes.on('end', () => res.end());
        upRes.on('error', () => res.destroy());
        res.on('close', () => upRes.destroy());
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    relay = new FaultyRelay(server, (server.address() as AddressInfo).port);
    return relay;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

export { freePort };
