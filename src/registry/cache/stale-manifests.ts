import { LRUCache } from 'lru-cache';
import { RegistryError } from '../errors';
import { isDigest } from '../names';
import { BufferBody } from '../upstream/buffer-body';
import type { Upstream, UpstreamRequest, UpstreamResponse } from '../upstream/upstream';
import type { CacheMetrics } from './metrics';
import { readManifest } from './read-manifest';

export interface StaleManifestOptions {
  /** How long after it was fetched a tag's last known manifest may stand in for a failing upstream, in ms; 0 = never. */
  maxStaleMs: number;
  /** Tag answers kept (per tag, repository and Accept list). */
  maxEntries: number;
  metrics?: CacheMetrics;
  /** Clock, for tests. */
  now?: () => number;
}

interface Kept {
  headers: Record<string, string>;
  fetchedAt: number;
}

interface Body {
  body: Buffer;
  headers: Record<string, string>;
}

/**
 * An Upstream in front of an Upstream that remembers what each tag last
 * resolved to (its headers, digest included, from a GET or a HEAD) and the
 * manifests it fetched by GET, and answers from them for up to `maxStaleMs`
 * when the upstream is unreachable, times out, or answers 429 or 5xx, with
 * `Warning: 110 - "Response is Stale"`. A manifest by digest it holds is
 * served during the failure too (content by digest cannot be stale). Any
 * other error (unknown, denied) is passed on: only an outage turns into a
 * stale answer. Everything else passes straight through.
 */
export class StaleManifests implements Upstream {
  readonly name: string;
  readonly #tags: LRUCache<string, Kept>;
  readonly #bodies: LRUCache<string, Body>;

  constructor(
    private readonly inner: Upstream,
    private readonly options: StaleManifestOptions,
  ) {
    this.name = inner.name;
    this.#tags = new LRUCache({ max: options.maxEntries });
    this.#bodies = new LRUCache({ max: options.maxEntries });
  }

  async fetch(request: UpstreamRequest): Promise<UpstreamResponse> {
    if (request.kind !== 'manifest') return this.inner.fetch(request);
    const byDigest = isDigest(request.reference);
    const tagKey = `${request.repository}:${request.reference}\n${acceptKey(request.accept)}`;
    const now = (this.options.now ?? Date.now)();
    let res: UpstreamResponse;
    try {
      res = await this.inner.fetch(request);
    } catch (err) {
      if (!isOutage(err)) throw err;
      const stale = this.#stale(request, byDigest, tagKey, now);
      if (!stale) throw err;
      this.options.metrics?.staleServes.inc({ reason: (err as RegistryError).code === 'TOOMANYREQUESTS' ? 'ratelimited' : 'unavailable' });
      return stale;
    }
    if (res.status !== 200 || res.location) return res;
    const digest = res.headers['docker-content-digest'] ?? (byDigest ? request.reference : undefined);
    if (!byDigest && digest) this.#tags.set(tagKey, { headers: { ...res.headers }, fetchedAt: now });
    if (request.method !== 'GET' || !res.body || !digest) return res;
    const body = await readManifest(res.body);
    this.#bodies.set(`${request.repository}@${digest}`, { body, headers: { ...res.headers, 'content-length': String(body.length) } });
    return { ...res, body: new BufferBody(body) };
  }

  close(): Promise<void> {
    this.#tags.clear();
    this.#bodies.clear();
    return this.inner.close();
  }

  /** The answer kept for a failing request, or undefined. */
  #stale(request: UpstreamRequest & { kind: 'manifest' }, byDigest: boolean, tagKey: string, now: number): UpstreamResponse | undefined {
    let digest = request.reference;
    let headers: Record<string, string> = {};
    if (!byDigest) {
      const tag = this.#tags.get(tagKey);
      if (!tag || now - tag.fetchedAt > this.options.maxStaleMs || !tag.headers['docker-content-digest']) return undefined;
      digest = tag.headers['docker-content-digest'];
      headers = { ...tag.headers, warning: '110 - "Response is Stale"' };
    }
    const kept = this.#bodies.get(`${request.repository}@${digest}`);
    if (request.method === 'HEAD') return byDigest && !kept ? undefined : { status: 200, headers: { ...kept?.headers, ...headers } };
    if (!kept) return undefined;
    return { status: 200, headers: { ...kept.headers, ...headers }, body: new BufferBody(kept.body) };
  }
}

/** The Accept list as a set: Docker sends its media types in a different order on every request. */
function acceptKey(accept: string[]): string {
  return [...new Set(accept.flatMap((a) => a.split(',')).map((a) => a.trim()).filter(Boolean))].sort().join(',');
}

/** The failures a stale answer may stand in for: unreachable, timed out, 5xx (UNAVAILABLE) and 429. */
function isOutage(err: unknown): boolean {
  return err instanceof RegistryError && (err.code === 'UNAVAILABLE' || err.code === 'TOOMANYREQUESTS');
}
