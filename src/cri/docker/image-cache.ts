import type Docker from 'dockerode';
import { BoundedCache } from '../../lib/bounded-cache';
import { silentLogger, type Logger } from '../../log/logger';

/** Longest an answer is served from the cache, even with no event. */
const TTL_MS = 10_000;
const MAX_ENTRIES = 2_000;
const RECONNECT_MS = [250, 500, 1000, 2000, 5000];

/**
 * Image answers (inspect results, lists) remembered while Docker Engine's
 * event stream for images is connected, and forgotten at every image event
 * (pull, tag, untag, delete, import, load…) and after `TTL_MS` (the shared
 * BoundedCache: at most `MAX_ENTRIES`, least recently used first). Without a
 * connected event stream nothing is cached, so a failing engine is seen at
 * once. A lookup that started before an invalidation never stores its answer
 * (a generation count), and the backend invalidates after its own changes,
 * so a caller always sees its own pulls and removes. Loads are not shared
 * between callers: each runs under its own caller's signal.
 */
export class ImageCache {
  readonly #entries = new BoundedCache<string, { value: unknown }>({ max: MAX_ENTRIES, ttlMs: TTL_MS });
  #generation = 0;
  #connected = false;
  #stream?: NodeJS.ReadableStream & { destroy?: () => void };
  #closed = false;
  #attempt = 0;
  #timer?: NodeJS.Timeout;

  constructor(
    private readonly docker: Docker,
    private readonly logger: Logger = silentLogger,
  ) {}

  /** Starts following the engine's image events (reconnecting with back-off). */
  start(): void {
    void this.#connect();
  }

  /** The cached answer for `key`, or the answer `load` gives (stored when still valid; `undefined` never is). */
  async get<T>(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.#connected ? this.#entries.get(key) : undefined;
    if (hit) return hit.value as T;
    const generation = this.#generation;
    const value = await load();
    if (value !== undefined && this.#connected && generation === this.#generation) this.#entries.set(key, { value });
    return value;
  }

  /** Forgets everything; called on every image event and after the backend's own changes. */
  invalidate(): void {
    this.#generation++;
    this.#entries.clear();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#disconnect();
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    try {
      const stream = (await this.docker.getEvents({ filters: { type: ['image'] } })) as unknown as NodeJS.ReadableStream & { destroy?: () => void };
      if (this.#closed) return stream.destroy?.();
      this.#stream = stream;
      this.invalidate();
      this.#connected = true;
      this.#attempt = 0;
      stream.on('data', () => this.invalidate());
      stream.on('error', () => this.#lost());
      stream.on('close', () => this.#lost());
      stream.on('end', () => this.#lost());
    } catch (err) {
      this.logger.debug('Docker image events not available; not caching', { error: (err as Error).message });
      this.#lost();
    }
  }

  #lost(): void {
    this.#disconnect();
    if (this.#closed || this.#timer) return;
    const delay = RECONNECT_MS[Math.min(this.#attempt++, RECONNECT_MS.length - 1)];
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#connect();
    }, delay);
    this.#timer.unref();
  }

  #disconnect(): void {
    this.#connected = false;
    this.invalidate();
    const stream = this.#stream;
    this.#stream = undefined;
    stream?.removeAllListeners();
    stream?.on('error', () => undefined);
    stream?.destroy?.();
  }
}
