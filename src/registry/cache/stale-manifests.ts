import { Readable } from 'node:stream';
import { LRUCache } from 'lru-cache';
import { RegistryError } from '../errors';
import { isDigest } from '../names';
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
  body: Buffer;
  headers: Record<string, string>;
  fetchedAt: number;
}

/**
 * An Upstream in front of an Upstream that keeps the last manifest each tag
 * resolved to (with its digest), and answers with it for up to `maxStaleMs`
 * when the upstream is unreachable, times out, or answers 429 or 5xx — with
 * `Warning: 110 - "Response is Stale"`. A manifest by digest that such a tag
 * answer held is served during the failure too (content by digest cannot be
 * stale). Any other error (unknown, denied) is passed on: only an outage
 * turns into a stale answer. Everything else passes straight through.
 */
export class StaleManifests implements Upstream {
  readonly name: string;
  readonly #byTag: LRUCache<string, Kept>;
  readonly #byDigest: LRUCache<string, Kept>;

  constructor(
    private readonly inner: Upstream,
    private readonly options: StaleManifestOptions,
  ) {
    this.name = inner.name;
    this.#byTag = new LRUCache({ max: options.maxEntries });
    this.#byDigest = new LRUCache({ max: options.maxEntries });
  }

  async fetch(request: UpstreamRequest): Promise<UpstreamResponse> {
    if (request.kind !== 'manifest') return this.inner.fetch(request);
    const byDigest = isDigest(request.reference);
    const key = byDigest ? `${request.repository}@${request.reference}` : `${request.repository}:${request.reference}\n${request.accept.join(',')}`;
    let res: UpstreamResponse;
    try {
      res = await this.inner.fetch(request);
    } catch (err) {
      const kept = isOutage(err) ? (byDigest ? this.#byDigest : this.#byTag).get(key) : undefined;
      const now = (this.options.now ?? Date.now)();
      if (!kept || (!byDigest && now - kept.fetchedAt > this.options.maxStaleMs)) throw err;
      this.options.metrics?.staleServes.inc({ reason: (err as RegistryError).code === 'TOOMANYREQUESTS' ? 'ratelimited' : 'unavailable' });
      const headers = byDigest ? { ...kept.headers } : { ...kept.headers, warning: '110 - "Response is Stale"' };
      return { status: 200, headers, body: request.method === 'GET' ? Readable.from([kept.body]) : undefined };
    }
    if (byDigest || request.method !== 'GET' || res.status !== 200 || !res.body || res.location) return res;
    const body = await readManifest(res.body);
    const kept: Kept = { body, headers: { ...res.headers, 'content-length': String(body.length) }, fetchedAt: (this.options.now ?? Date.now)() };
    this.#byTag.set(key, kept);
    const digest = res.headers['docker-content-digest'];
    if (digest) this.#byDigest.set(`${request.repository}@${digest}`, kept);
    return { ...res, body: Readable.from([body]) };
  }

  close(): Promise<void> {
    this.#byTag.clear();
    this.#byDigest.clear();
    return this.inner.close();
  }
}

/** The failures a stale answer may stand in for: unreachable, timed out, 5xx (UNAVAILABLE) and 429. */
function isOutage(err: unknown): boolean {
  return err instanceof RegistryError && (err.code === 'UNAVAILABLE' || err.code === 'TOOMANYREQUESTS');
}
