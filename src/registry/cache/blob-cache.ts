import { Readable } from 'node:stream';
import { BufferBody } from '../upstream/buffer-body';
import type { Upstream, UpstreamRequest, UpstreamResponse } from '../upstream/upstream';
import type { BlobStore } from './blob-store';
import { FileBody } from './file-body';
import { FileReads } from './file-reads';
import { type Fill, FillReader } from './fill';
import { isStorableDigest } from './digest';
import { referencedDigests } from './manifest-links';
import type { CacheMetrics } from './metrics';
import { parseRange } from './range';
import { readManifest } from './read-manifest';

type BlobRequest = UpstreamRequest & { kind: 'blob' };

/**
 * An Upstream in front of an Upstream that serves blobs from the shared disk
 * store (distribution's proxyBlobStore, with its gaps closed):
 * - a blob is served from disk only for a repository linked to it (this
 *   upstream served it, or a manifest it served, for that repository); for
 *   any other repository the upstream is asked first (a HEAD), and its answer
 *   decides;
 * - a miss starts one fill per digest; concurrent requests read the same
 *   growing file; the fill is verified against the digest before it is kept,
 *   and a client never receives the last byte of an unverified fill;
 * - anything the store cannot take (a redirect, no length, no room, a disk
 *   that refuses) is streamed from the upstream as without a cache.
 * Manifests pass through, read whole (they are small) to record links.
 */
export class BlobCache implements Upstream {
  readonly name: string;

  constructor(
    private readonly inner: Upstream,
    private readonly store: BlobStore,
    private readonly metrics?: CacheMetrics,
  ) {
    this.name = inner.name;
  }

  async fetch(request: UpstreamRequest): Promise<UpstreamResponse> {
    if (request.kind === 'manifest') return this.#manifest(request);
    if (request.kind !== 'blob' || !isStorableDigest(request.digest)) return this.inner.fetch(request);
    const { store } = this;
    const cached = store.index.has(request.digest);
    const filling = store.fillOf(request.digest);
    const sameOrigin = filling && store.originOf(request.digest) === `${this.name}\t${request.repository}`;
    if ((cached || filling) && !sameOrigin && !store.links.has(this.name, request.repository, request.digest)) {
      const head = await this.inner.fetch({ ...request, method: 'HEAD', range: undefined });
      if (head.status !== 200) return this.#bypass(request);
      store.links.add(this.name, request.repository, request.digest);
    }
    if (store.index.has(request.digest)) {
      const hit = await this.#fromDisk(request);
      if (hit) return hit;
    }
    const pending = store.fillOf(request.digest);
    if (pending) {
      const fill = await pending.catch(() => undefined);
      const joined = fill && (await this.#fromFill(request, fill));
      if (joined) return joined;
      if (store.index.has(request.digest)) {
        const hit = await this.#fromDisk(request);
        if (hit) return hit;
      }
      return this.#bypass(request);
    }
    if (request.method === 'HEAD' || request.range) return this.#bypass(request);
    return this.#fill(request);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** A cached blob, whole or a range, with the headers the upstream sends. */
  async #fromDisk(request: BlobRequest): Promise<UpstreamResponse | undefined> {
    const opened = await this.store.openBlob(request.digest);
    if (!opened) return undefined;
    const { fd, size } = opened;
    let range;
    try {
      range = parseRange(request.range, size);
    } catch (err) {
      this.#closeUnused(fd, request.digest);
      throw err;
    }
    this.metrics?.requests.inc({ result: 'hit' });
    const headers = blobHeaders(request.digest, size);
    if (range) {
      headers['content-length'] = String(range.end - range.start + 1);
      headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
    }
    if (request.method === 'HEAD') {
      this.#closeUnused(fd, request.digest);
      return { status: range ? 206 : 200, headers };
    }
    const start = range?.start ?? 0;
    const length = range ? range.end - range.start + 1 : size;
    const body = new FileBody(fd, start, length, (sent) => {
      this.metrics?.bytes.inc({ source: 'cache' }, sent);
      this.store.release(request.digest);
    });
    return { status: range ? 206 : 200, headers, body };
  }

  /** Joins a fill in progress (whole-body GET or HEAD only); undefined when it cannot. */
  async #fromFill(request: BlobRequest, fill: Fill): Promise<UpstreamResponse | undefined> {
    if (fill.state === 'failed' || fill.state === 'broken' || request.range) return undefined;
    if (request.method === 'HEAD') return { status: 200, headers: { ...fill.headers } };
    const fd = await this.store.openFill(fill);
    if (fd === undefined) return undefined;
    this.metrics?.requests.inc({ result: 'shared' });
    return { status: 200, headers: { ...fill.headers }, body: this.#reader(request, fill, fd) };
  }

  /** Starts the one fill of this digest and serves this request from it. */
  async #fill(request: BlobRequest): Promise<UpstreamResponse> {
    let upstream: UpstreamResponse | undefined;
    const fill = await this.store.begin(request.digest, `${this.name}\t${request.repository}`, async () => {
      upstream = await this.inner.fetch({ ...request, method: 'GET', range: undefined });
      const size = Number(upstream.headers['content-length']);
      if (upstream.status !== 200 || !upstream.body || upstream.location || !Number.isSafeInteger(size) || size < 0) return undefined;
      this.store.links.add(this.name, request.repository, request.digest);
      return { body: upstream.body, size, headers: { ...upstream.headers, 'docker-content-digest': request.digest } };
    });
    const fd = fill && (await this.store.openFill(fill));
    if (!fill || fd === undefined) {
      this.metrics?.requests.inc({ result: 'bypass' });
      if (upstream?.body && !upstream.location) this.metrics?.bytes.inc({ source: 'upstream' }, Number(upstream.headers['content-length']) || 0);
      return upstream!;
    }
    this.metrics?.requests.inc({ result: 'miss' });
    return { status: 200, headers: { ...fill.headers }, body: this.#reader(request, fill, fd) };
  }

  #reader(request: BlobRequest, fill: Fill, fd: number): Readable {
    const rest = async (offset: number): Promise<Readable> => {
      const res = await this.inner.fetch({ ...request, method: 'GET', range: `bytes=${offset}-` });
      if (!res.body || (res.status !== 200 && res.status !== 206)) throw new Error('upstream did not send the rest of the blob');
      this.metrics?.bytes.inc({ source: 'upstream' }, fill.size - offset);
      return res.status === 206 ? res.body : Readable.from(skip(offset)(res.body));
    };
    return new FillReader(fill, fd, rest, (fromDisk) => {
      this.metrics?.bytes.inc({ source: 'cache' }, fromDisk);
      this.store.release(fill.digest);
    });
  }

  /** The upstream's own answer, as without a cache. */
  async #bypass(request: BlobRequest): Promise<UpstreamResponse> {
    const res = await this.inner.fetch(request);
    this.metrics?.requests.inc({ result: 'bypass' });
    if (res.body && !res.location) this.metrics?.bytes.inc({ source: 'upstream' }, Number(res.headers['content-length']) || 0);
    return res;
  }

  /** Relays a manifest, recording a link from its repository to each blob it names. */
  async #manifest(request: UpstreamRequest & { kind: 'manifest' }): Promise<UpstreamResponse> {
    const res = await this.inner.fetch(request);
    if (request.method !== 'GET' || res.status !== 200 || !res.body || res.location) return res;
    const body = await readManifest(res.body);
    for (const digest of referencedDigests(body)) this.store.links.add(this.name, request.repository, digest);
    return { ...res, body: new BufferBody(body) };
  }

  #closeUnused(fd: number, digest: string): void {
    new FileReads(fd).close(() => this.store.release(digest));
  }
}

/** The headers docker-registry sends with a blob (distribution's blobserver). */
function blobHeaders(digest: string, size: number): Record<string, string> {
  return {
    'content-type': 'application/octet-stream',
    'content-length': String(size),
    'docker-content-digest': digest,
    etag: `"${digest}"`,
    'accept-ranges': 'bytes',
  };
}

/** Drops the first `bytes` bytes of a stream (an upstream that ignored Range). */
function skip(bytes: number): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* (source) {
    let left = bytes;
    for await (const chunk of source) {
      if (left >= chunk.length) {
        left -= chunk.length;
        continue;
      }
      yield left > 0 ? chunk.subarray(left) : chunk;
      left = 0;
    }
  };
}
