/**
 * The blob cache's in-memory index: which digests are on disk and their
 * sizes, in least-recently-used order, bounded by bytes. Entries being served
 * are pinned and never chosen for eviction; space promised to fills in
 * progress is reserved. (lru-cache evicts whatever is oldest, then tells its
 * dispose hook; a pinned entry must be skipped instead, so this is a Map in
 * use order.) Not thread-safe; Node's single thread is assumed.
 */
export class BlobIndex {
  readonly #entries = new Map<string, number>();
  readonly #pins = new Map<string, number>();
  #bytes = 0;
  #reserved = 0;

  constructor(
    readonly maxBytes: number,
    /** Called for every entry evicted (the store removes its file). */
    private readonly onEvict: (digest: string, size: number) => void,
  ) {}

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The size of a cached digest, marking it most recently used; undefined when not cached. */
  use(digest: string): number | undefined {
    const size = this.#entries.get(digest);
    if (size === undefined) return undefined;
    this.#entries.delete(digest);
    this.#entries.set(digest, size);
    return size;
  }

  has(digest: string): boolean {
    return this.#entries.has(digest);
  }

  /** Adds an entry found on disk or just filled (its space was reserved: pass `reserved`). */
  add(digest: string, size: number, reserved = 0): void {
    this.#reserved -= reserved;
    this.remove(digest);
    this.#entries.set(digest, size);
    this.#bytes += size;
    this.#shrink(0);
  }

  /** Forgets an entry (its file is gone or unreadable); no eviction callback. */
  remove(digest: string): void {
    const size = this.#entries.get(digest);
    if (size === undefined) return;
    this.#entries.delete(digest);
    this.#bytes -= size;
  }

  /** Makes room for `size` more bytes by evicting unpinned entries; false (nothing reserved) when that is impossible. */
  reserve(size: number): boolean {
    if (size > this.maxBytes || !this.#shrink(size)) return false;
    this.#reserved += size;
    return true;
  }

  /** Returns space reserved for a fill that was not kept. */
  unreserve(size: number): void {
    this.#reserved -= size;
  }

  pin(digest: string): void {
    this.#pins.set(digest, (this.#pins.get(digest) ?? 0) + 1);
  }

  unpin(digest: string): void {
    const n = (this.#pins.get(digest) ?? 1) - 1;
    if (n > 0) this.#pins.set(digest, n);
    else this.#pins.delete(digest);
  }

  /** Evicts least recently used, unpinned entries until `extra` more bytes fit; false when they cannot. */
  #shrink(extra: number): boolean {
    const limit = this.maxBytes - extra - this.#reserved;
    if (this.#bytes <= limit) return true;
    for (const [digest, size] of this.#entries) {
      if (this.#bytes <= limit) break;
      if (this.#pins.has(digest)) continue;
      this.#entries.delete(digest);
      this.#bytes -= size;
      this.onEvict(digest, size);
    }
    return this.#bytes <= limit;
  }
}
