import { LRUCache } from 'lru-cache';

interface Loader<V> {
  loader: () => Promise<V | undefined>;
  ttlOf?: (value: V) => number;
}

/** Sizes and lifetimes of one BoundedCache. */
export interface BoundedCacheOptions<K, V> {
  /** Most entries held; beyond it the least recently used is forgotten. */
  max: number;
  /** Most total size of the entries (as `sizeOf` measures them); none when absent. */
  maxSize?: number;
  /** Size of one entry, for `maxSize` (e.g. a body's byte length). Required with `maxSize`. */
  sizeOf?: (value: V, key: K) => number;
  /** How long an entry is served after it was stored, in ms (older than this, never); until evicted when absent. */
  ttlMs?: number;
  /** Called when an entry leaves because the cache was full or its time ran out (not on `delete`, `clear` or replacement). */
  onEvict?: (key: K, value: V) => void;
  /** Where "now" comes from, for `ttlMs` (a test's fake clock). Default `performance`. */
  clock?: { now(): number };
}

/**
 * The one bounded in-memory cache (on `lru-cache`): at most `max` entries
 * and `maxSize` in total, the least recently used forgotten first, each
 * entry optionally living `ttlMs`; an entry older than that is never returned.
 * `load` shares one loader call among concurrent callers of a key (lru-cache's
 * `fetch`). A load that overlaps a `delete` or `clear` of its key still
 * answers its caller but is not stored, so an invalidation is never undone
 * by an answer computed before it.
 */
export class BoundedCache<K extends {}, V extends {}> {
  readonly #lru: LRUCache<K, V, Loader<V>>;
  readonly #loading = new Map<K, number>();

  constructor(options: BoundedCacheOptions<K, V>) {
    const { onEvict } = options;
    this.#lru = new LRUCache<K, V, Loader<V>>({
      max: options.max,
      ...(options.maxSize !== undefined ? { maxSize: options.maxSize, sizeCalculation: (v: V, k: K) => Math.max(1, options.sizeOf?.(v, k) ?? 1) } : {}),
      ...(options.ttlMs !== undefined ? { ttl: options.ttlMs } : {}),
      ...(options.clock ? { perf: options.clock, ttlResolution: 0 } : {}),
      ...(onEvict ? { dispose: (v: V, k: K, reason: LRUCache.DisposeReason) => (reason === 'evict' || reason === 'expire') && onEvict(k, v) } : {}),
      ignoreFetchAbort: true,
      fetchMethod: async (_key, _stale, { context, options: fetched }) => {
        const value = await context.loader();
        if (value !== undefined && context.ttlOf) fetched.ttl = Math.max(1, Math.ceil(context.ttlOf(value)));
        return value;
      },
    });
  }

  /** The value (now the most recently used), or undefined when absent or expired. */
  get(key: K): V | undefined {
    return this.#lru.get(key);
  }

  /** The value without touching its recency, or undefined when absent or expired. */
  peek(key: K): V | undefined {
    return this.#lru.peek(key);
  }

  has(key: K): boolean {
    return this.#lru.has(key);
  }

  /** Stores a value; `ttlMs` overrides the cache's lifetime for this entry. A value larger than `maxSize` is not stored. */
  set(key: K, value: V, ttlMs?: number): void {
    this.#lru.set(key, value, ttlMs === undefined ? undefined : { ttl: ttlMs });
  }

  delete(key: K): void {
    this.#lru.delete(key);
  }

  clear(): void {
    this.#lru.clear();
  }

  get size(): number {
    return this.#lru.size;
  }

  /** Total size of the entries (with `maxSize`), else 0. */
  get totalSize(): number {
    return this.#lru.calculatedSize ?? 0;
  }

  /** Entries, most recently used first (expired ones left out). */
  *entries(): IterableIterator<[K, V]> {
    yield* this.#lru.entries();
  }

  /** True while a `load` of the key is running. */
  loading(key: K): boolean {
    return this.#loading.has(key);
  }

  /**
   * The cached value, or `loader`'s (stored unless undefined), with one loader
   * call shared by concurrent callers of the key; `ttlMs` (a number, or a
   * function of the loaded value such as a token's remaining lifetime) as in
   * `set`. A loader failure rejects every waiting caller and stores nothing.
   */
  async load(key: K, loader: () => Promise<V | undefined>, ttlMs?: number | ((value: V) => number)): Promise<V | undefined> {
    const cached = this.#lru.get(key);
    if (cached !== undefined) return cached;
    this.#loading.set(key, (this.#loading.get(key) ?? 0) + 1);
    try {
      const context = { loader, ttlOf: typeof ttlMs === 'function' ? ttlMs : undefined };
      return await this.#lru.fetch(key, { context, ...(typeof ttlMs === 'number' ? { ttl: ttlMs } : {}) });
    } finally {
      const left = (this.#loading.get(key) ?? 1) - 1;
      if (left > 0) this.#loading.set(key, left);
      else this.#loading.delete(key);
    }
  }
}
