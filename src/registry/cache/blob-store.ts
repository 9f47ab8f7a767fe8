import { createHash, randomBytes } from 'node:crypto';
import { close as closeCb, constants, fstat as fstatCb, open as openCb } from 'node:fs';
import { type FileHandle, chmod, mkdir, open, readdir, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import type { Logger } from '../../log/logger';
import { BlobIndex } from './blob-index';
import { Fill } from './fill';
import { Links } from './links';
import type { CacheMetrics } from './metrics';

const openFd = promisify(openCb);
const fstatFd = promisify(fstatCb);
/** Bytes of a fill collected before they are written to its file in one call. */
const WRITE_BATCH = 1024 * 1024;

export interface BlobStoreOptions {
  /** The cache directory (created when missing). */
  dir: string;
  /** Most bytes of blobs kept. */
  maxBytes: number;
  metrics?: CacheMetrics;
  logger: Logger;
}

/** A cached blob opened for reading: its descriptor (the caller closes it) and size. */
export interface OpenedBlob {
  fd: number;
  size: number;
}

/**
 * The content-addressed blob store on local disk, shared by every upstream
 * of one facade process: `<dir>/blobs/<algorithm>/<hex>` are verified blobs
 * (a file is only ever renamed there after its digest matched), `<dir>/tmp/`
 * holds fills in progress (emptied at start: a fill left by a killed process
 * is discarded), `<dir>/links` the per-repository links. The index is rebuilt
 * from disk at start, least recently used first by modification time (touched
 * on every hit). A directory that cannot be written leaves the cache serving
 * what it holds and every miss streamed from the upstream.
 */
export class BlobStore {
  readonly index: BlobIndex;
  readonly links: Links;
  readonly #fills = new Map<string, Promise<Fill | undefined>>();
  /** Who started each fill in progress: `<upstream>\t<repository>`, which joins it without asking the upstream first. */
  readonly #origins = new Map<string, string>();

  private constructor(private readonly options: BlobStoreOptions) {
    this.index = new BlobIndex(options.maxBytes, (digest, size) => this.#evicted(digest, size));
    this.links = new Links(join(options.dir, 'links'));
  }

  static async open(options: BlobStoreOptions): Promise<BlobStore> {
    const store = new BlobStore(options);
    await store.#rebuild();
    return store;
  }

  /** `<upstream>\t<repository>` of the request that started the fill of a digest in progress. */
  originOf(digest: string): string | undefined {
    return this.#origins.get(digest);
  }

  /** The fill in progress for a digest, if any (settled fills are forgotten). */
  fillOf(digest: string): Promise<Fill | undefined> | undefined {
    return this.#fills.get(digest);
  }

  /**
   * Opens a cached blob for reading and pins it until `release`; undefined
   * when it is not cached, or when its file is gone or no longer the size
   * the index holds (cut short under the facade), which drops it, so that
   * the request goes to the upstream and fills again.
   */
  async openBlob(digest: string): Promise<OpenedBlob | undefined> {
    const size = this.index.use(digest);
    if (size === undefined) return undefined;
    this.index.pin(digest);
    let fd: number | undefined;
    try {
      fd = await openFd(this.#path(digest), constants.O_RDONLY);
      const actual = (await fstatFd(fd)).size;
      if (actual !== size) {
        unlink(this.#path(digest)).catch(() => undefined);
        throw new Error(`${actual} bytes on disk, ${size} indexed`);
      }
      const now = new Date();
      utimes(this.#path(digest), now, now).catch(() => undefined);
      return { fd, size };
    } catch (err) {
      if (fd !== undefined) closeCb(fd, () => undefined);
      this.index.unpin(digest);
      this.index.remove(digest);
      this.links.drop(digest);
      this.options.logger.warn('blob cache entry unreadable; dropped', { digest, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message });
      return undefined;
    }
  }

  /** Releases a pin taken by openBlob or openFill. */
  release(digest: string): void {
    this.index.unpin(digest);
  }

  /** Opens a fill's temporary file for reading (each client its own descriptor); pins the digest. */
  async openFill(fill: Fill): Promise<number | undefined> {
    try {
      const fd = await openFd(fill.tmpPath, constants.O_RDONLY);
      this.index.pin(fill.digest);
      return fd;
    } catch {
      return undefined;
    }
  }

  /**
   * Starts filling `digest` from `body` (`size` bytes) and registers the fill
   * for concurrent requests; undefined, with `body` left untouched, when it
   * cannot be cached (too large, no room left unpinned, the disk refuses).
   * `start` is awaited to get the body: callers pass the upstream fetch.
   */
  begin(digest: string, origin: string, start: () => Promise<{ body: Readable; size: number; headers: Record<string, string> } | undefined>): Promise<Fill | undefined> {
    const pending = this.#begin(digest, start);
    this.#fills.set(digest, pending);
    this.#origins.set(digest, origin);
    const forget = () => {
      this.#fills.delete(digest);
      this.#origins.delete(digest);
    };
    pending.then((fill) => (fill ? this.#whenSettled(fill, forget) : forget()), forget);
    return pending;
  }

  close(): Promise<void> {
    return this.links.flush();
  }

  async #begin(digest: string, start: () => Promise<{ body: Readable; size: number; headers: Record<string, string> } | undefined>): Promise<Fill | undefined> {
    const got = await start();
    if (!got) return undefined;
    const { body, size, headers } = got;
    if (!this.index.reserve(size)) return undefined;
    const tmpPath = join(this.options.dir, 'tmp', `${digest.replace(':', '-')}.${randomBytes(6).toString('hex')}`);
    let handle: FileHandle;
    try {
      handle = await open(tmpPath, 'wx', 0o600);
    } catch (err) {
      this.index.unreserve(size);
      this.options.logger.warn('blob cache cannot write; streaming from the upstream', { error: (err as NodeJS.ErrnoException).code ?? String(err) });
      return undefined;
    }
    const fill = new Fill(digest, size, headers, tmpPath);
    void this.#run(fill, body, handle);
    return fill;
  }

  /** Streams the body into the file, hashing as it goes; commits the file only when the digest matches. */
  async #run(fill: Fill, body: Readable, handle: FileHandle): Promise<void> {
    const [algorithm, hex] = fill.digest.split(':');
    const hash = createHash(algorithm);
    const metrics = this.options.metrics;
    let diskError: Error | undefined;
    let upstreamError: Error | undefined;
    // Chunks are written in batches of WRITE_BATCH, one batch on the disk while the next arrives:
    // the upstream waits only when a whole batch is ready before the previous one is written, and
    // a write costs one thread-pool round trip per batch, not per chunk. Each batch becomes visible
    // to readers once it is written.
    let batch: Buffer[] = [];
    let batchBytes = 0;
    let queued = 0;
    let writing: Promise<void> = Promise.resolve();
    const flush = () => {
      const buffers = batch;
      const bytes = batchBytes;
      const position = queued;
      batch = [];
      batchBytes = 0;
      queued += bytes;
      writing = writing.then(async () => {
        if (diskError) return;
        try {
          await writeAll(handle, buffers, position);
          fill.progress(bytes);
        } catch (err) {
          diskError = err as Error;
        }
      });
    };
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        hash.update(chunk);
        metrics?.bytes.inc({ source: 'upstream' }, chunk.length);
        batch.push(chunk);
        batchBytes += chunk.length;
        if (batchBytes < WRITE_BATCH) continue;
        await writing;
        if (diskError) break;
        flush();
      }
    } catch (err) {
      upstreamError = err as Error;
    }
    if (batchBytes > 0 && !diskError && !upstreamError) flush();
    await writing;
    if (diskError) body.destroy();
    await handle.close().catch((err: Error) => (diskError ??= err));
    const ok = !diskError && !upstreamError && fill.written === fill.size && hash.digest('hex') === hex;
    if (ok) {
      try {
        await mkdir(join(this.options.dir, 'blobs', algorithm), { recursive: true, mode: 0o700 });
        await rename(fill.tmpPath, this.#path(fill.digest));
      } catch (err) {
        diskError = err as Error;
      }
    }
    if (ok && !diskError) {
      this.index.add(fill.digest, fill.size, fill.size);
      metrics?.fills.inc({ result: 'ok' });
      fill.settle('verified');
      return;
    }
    this.index.unreserve(fill.size);
    unlink(fill.tmpPath).catch(() => undefined);
    if (diskError && !upstreamError) {
      metrics?.fills.inc({ result: 'error' });
      this.options.logger.warn('blob cache fill failed on disk; clients continue from the upstream', { digest: fill.digest, error: (diskError as NodeJS.ErrnoException).code ?? diskError.message });
      fill.settle('broken', diskError);
    } else if (upstreamError || fill.written !== fill.size) {
      metrics?.fills.inc({ result: 'error' });
      fill.settle('failed', upstreamError ?? new Error('upstream blob ended early'));
    } else {
      metrics?.fills.inc({ result: 'mismatch' });
      this.options.logger.warn('blob from the upstream does not match its digest; discarded', { digest: fill.digest });
      fill.settle('failed', new Error('blob does not match its digest'));
    }
  }

  #whenSettled(fill: Fill, then: () => void): void {
    if (fill.state !== 'filling') return then();
    fill.wait(() => this.#whenSettled(fill, then), Infinity);
  }

  #path(digest: string): string {
    const [algorithm, hex] = digest.split(':');
    return join(this.options.dir, 'blobs', algorithm, hex);
  }

  #evicted(digest: string, size: number): void {
    this.options.metrics?.evictions.inc();
    this.links.drop(digest);
    // A client still reading an older descriptor of this file keeps its bytes until it closes it.
    unlink(this.#path(digest)).catch(() => undefined);
    this.options.logger.debug('blob cache evicted an entry', { digest, size });
  }

  /** Empties tmp/, indexes blobs/ oldest first, and loads the links of what is cached. */
  async #rebuild(): Promise<void> {
    const { dir, logger } = this.options;
    try {
      // Private images' layers: readable by the facade's user only.
      await mkdir(join(dir, 'blobs'), { recursive: true, mode: 0o700 });
      await chmod(dir, 0o700).catch(() => undefined);
      await rm(join(dir, 'tmp'), { recursive: true, force: true });
      await mkdir(join(dir, 'tmp'), { recursive: true, mode: 0o700 });
    } catch (err) {
      logger.warn('blob cache directory is not writable; misses are streamed from the upstream', { dir, error: (err as NodeJS.ErrnoException).code ?? String(err) });
    }
    const found: { digest: string; size: number; mtime: number }[] = [];
    for (const algorithm of await readdir(join(dir, 'blobs')).catch(() => [] as string[])) {
      if (algorithm !== 'sha256' && algorithm !== 'sha512') continue;
      const hexLength = algorithm === 'sha256' ? 64 : 128;
      for (const hex of await readdir(join(dir, 'blobs', algorithm)).catch(() => [] as string[])) {
        if (hex.length !== hexLength || !/^[a-f0-9]+$/.test(hex)) continue;
        const info = await stat(join(dir, 'blobs', algorithm, hex)).catch(() => undefined);
        if (info?.isFile()) found.push({ digest: `${algorithm}:${hex}`, size: info.size, mtime: info.mtimeMs });
      }
    }
    found.sort((a, b) => a.mtime - b.mtime);
    for (const { digest, size } of found) this.index.add(digest, size);
    await this.links.load((digest) => this.index.has(digest));
    logger.info('blob cache ready', { dir, entries: this.index.size, bytes: this.index.bytes, maxBytes: this.options.maxBytes });
  }
}

/** Writes `buffers` at `position` whole; a nearly full disk writes short before it fails, which counts as the failure. */
async function writeAll(handle: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  const total = buffers.reduce((sum, b) => sum + b.length, 0);
  let { bytesWritten: done } = await handle.writev(buffers, position);
  if (done === total) return;
  const rest = Buffer.concat(buffers).subarray(done);
  while (done < total) {
    const { bytesWritten } = await handle.write(rest, done - (total - rest.length), total - done, position + done);
    if (bytesWritten === 0) throw Object.assign(new Error('no space left'), { code: 'ENOSPC' });
    done += bytesWritten;
  }
}
