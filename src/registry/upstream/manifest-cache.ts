import { createHash } from 'node:crypto';
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
  readonly #entries = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<Entry | undefined>>();
  #bytes = 0;

  constructor(
    private readonly inner: Upstream,
    private readonly options: ManifestCacheOptions = {},
  ) {
    this.name = inner.name;
  }

  async fetch(request: UpstreamRequest): Promise<UpstreamResponse> {
    if (request.kind !== 'manifest' || !isDigest(request.reference)) return this.inner.fetch(request);
    const key = `${request.repository}@${request.reference}`;
    const hit = this.#entries.get(key);
    if (hit && accepts(request.accept, hit.headers['content-type'])) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      this.options.metrics?.cache.inc({ result: 'hit' });
      return answer(hit, request.method);
    }
    if (request.method === 'HEAD' && !this.#inflight.has(key)) return this.inner.fetch(request);
    let pending = this.#inflight.get(key);
    this.options.metrics?.cache.inc({ result: pending ? 'shared' : 'miss' });
    if (!pending) {
      pending = this.#load(request, key).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    const entry = await pending;
    if (!entry || !accepts(request.accept, entry.headers['content-type'])) return this.inner.fetch(request);
    return answer(entry, request.method);
  }

  close(): Promise<void> {
    this.#entries.clear();
    return this.inner.close();
  }

  /** Fetches with GET and keeps the manifest; undefined when it cannot be kept (a redirect, a digest mismatch). */
  async #load(request: UpstreamRequest & { kind: 'manifest' }, key: string): Promise<Entry | undefined> {
    const res = await this.inner.fetch({ ...request, method: 'GET' });
    if (res.status !== 200 || !res.body) {
      res.body?.destroy();
      return undefined;
    }
    const limit = this.options.maxManifestBytes ?? 4 * 1024 * 1024;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > limit) {
        res.body.destroy();
        throw new RegistryError('SIZE_INVALID', 'manifest too large', { limit });
      }
      chunks.push(chunk as Buffer);
    }
    const body = Buffer.concat(chunks);
    const [algorithm, hex] = request.reference.split(':');
    const entry: Entry = { body, headers: { ...res.headers, 'content-length': String(body.length), 'docker-content-digest': request.reference } };
    if (createHash(algorithm).update(body).digest('hex') !== hex) return undefined;
    this.#keep(key, entry);
    return entry;
  }

  #keep(key: string, entry: Entry): void {
    const maxEntries = this.options.maxEntries ?? 4096;
    const maxBytes = this.options.maxBytes ?? 64 * 1024 * 1024;
    if (entry.body.length > maxBytes) return;
    const old = this.#entries.get(key);
    if (old) {
      this.#entries.delete(key);
      this.#bytes -= old.body.length;
    }
    this.#entries.set(key, entry);
    this.#bytes += entry.body.length;
    for (const [k, e] of this.#entries) {
      if (this.#entries.size <= maxEntries && this.#bytes <= maxBytes) break;
      this.#entries.delete(k);
      this.#bytes -= e.body.length;
    }
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
