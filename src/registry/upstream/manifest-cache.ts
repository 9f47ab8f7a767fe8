import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { BoundedCache } from '../../lib/bounded-cache';
import { BodyTooLargeError, readCapped } from '../../lib/read-capped';
import { RegistryError } from '../errors';
import type { RegistryMetrics } from '../metrics';
import { isDigest } from '../names';
import { BufferBody } from './buffer-body';
import type { Upstream, UpstreamRequest, UpstreamResponse } from './upstream';

export interface ManifestCacheOptions {
  /** Most manifests kept. Default 4096. */
  maxEntries?: number;
  /** Most bytes kept, all manifests together. Default 64 MiB. */
  maxBytes?: number;
  /** Largest manifest read into memory. Default 4 MiB (distribution's own limit). */
  maxManifestBytes?: number;
  metrics?: RegistryMetrics;
}

interface Entry {
  body: Buffer;
  headers: Record<string, string>;
}

/**
 * An Upstream in front of an Upstream that answers manifests by digest from
 * memory. Content addressed by digest never changes, so entries are kept
 * until evicted (least recently used first, bounded by count and bytes); the
 * body is checked against its digest before it is kept. Concurrent misses of
 * one digest share one upstream fetch (distribution's proxyBlobStore pattern).
 * Everything else passes straight through.
 */
export class ManifestCache implements Upstream {
  readonly name: string;
  readonly #entries: BoundedCache<string, Entry>;

  constructor(
    private readonly inner: Upstream,
    private readonly options: ManifestCacheOptions = {},
  ) {
    this.name = inner.name;
    this.#entries = new BoundedCache({
      max: options.maxEntries ?? 4096,
      maxSize: options.maxBytes ?? 64 * 1024 * 1024,
      sizeOf: (entry) => entry.body.length,
    });
  }

  async fetch(request: UpstreamRequest): Promise<UpstreamResponse> {
    if (request.kind !== 'manifest' || !isDigest(request.reference)) return this.inner.fetch(request);
    const key = `${request.repository}@${request.reference}`;
    const hit = this.#entries.get(key);
    if (hit && accepts(request.accept, hit.headers['content-type'])) {
      this.options.metrics?.cache.inc({ result: 'hit' });
      return answer(hit, request.method);
    }
    const loading = this.#entries.loading(key);
    if (hit || (request.method === 'HEAD' && !loading)) {
      if (hit) this.options.metrics?.cache.inc({ result: 'miss' });
      return this.inner.fetch(request);
    }
    this.options.metrics?.cache.inc({ result: loading ? 'shared' : 'miss' });
    const entry = await this.#entries.load(key, () => this.#load(request));
    if (!entry || !accepts(request.accept, entry.headers['content-type'])) return this.inner.fetch(request);
    return answer(entry, request.method);
  }

  close(): Promise<void> {
    this.#entries.clear();
    return this.inner.close();
  }

  /** Fetches with GET the manifest to keep; undefined when it cannot be kept (a redirect, a digest mismatch). */
  async #load(request: UpstreamRequest & { kind: 'manifest' }): Promise<Entry | undefined> {
    const res = await this.inner.fetch({ ...request, method: 'GET' });
    if (res.status !== 200 || !res.body) {
      res.body?.destroy();
      return undefined;
    }
    const limit = this.options.maxManifestBytes ?? 4 * 1024 * 1024;
    const body = await readCapped(res.body, limit).catch((err: unknown) => {
      throw err instanceof BodyTooLargeError ? new RegistryError('SIZE_INVALID', 'manifest too large', { limit }) : err;
    });
    const [algorithm, hex] = request.reference.split(':');
    const entry: Entry = { body, headers: { ...res.headers, 'content-length': String(body.length), 'docker-content-digest': request.reference } };
    if (createHash(algorithm).update(body).digest('hex') !== hex) return undefined;
    return entry;
  }
}

function answer(entry: Entry, method: 'GET' | 'HEAD'): UpstreamResponse {
  return { status: 200, headers: { ...entry.headers }, body: method === 'GET' ? new BufferBody(entry.body) : undefined };
}

/** True when a client's Accept list admits the media type (no Accept, or `*\/*`, admits everything). */
function accepts(accept: string[], type: string | undefined): boolean {
  const listed = accept.flatMap((a) => a.split(',')).map((a) => a.split(';')[0].trim()).filter(Boolean);
  if (listed.length === 0 || listed.includes('*/*')) return true;
  return type !== undefined && listed.includes(type.split(';')[0].trim());
}
