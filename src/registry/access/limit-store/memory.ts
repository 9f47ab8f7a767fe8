import { BoundedCache } from '../../../lib/bounded-cache';
import type { LimitWindows, LoginLimitStore, Reservation } from './store';

interface Window {
  /** Failed attempts plus attempts still being checked. */
  count: number;
  resetAt: number;
}

/**
 * Login windows in this process's memory (the default, and the Redis store's
 * fallback): fixed windows that start at a key's first attempt, at most
 * `maxKeys` keys (default 100000; the shared BoundedCache, least recently
 * used forgotten first, each window dropped once it has ended).
 */
export class MemoryLimitStore implements LoginLimitStore {
  readonly kind = 'memory';
  readonly #windows: BoundedCache<string, Window>;

  constructor(private readonly limits: LimitWindows & { maxKeys?: number }) {
    this.#windows = new BoundedCache({ max: limits.maxKeys ?? 100_000, ttlMs: limits.windowMs, clock: Date });
  }

  async reserve(client: string, user: string): Promise<Reservation> {
    return this.reserveNow(client, user);
  }

  /** `reserve`, synchronously. */
  reserveNow(client: string, user: string): Reservation {
    const now = Date.now();
    const pairKey = `${client}\n${user}`;
    const pair = this.#window(pairKey, now);
    const whole = this.#window(client, now);
    const wait = Math.max(
      pair.count >= this.limits.perClientAndUser ? pair.resetAt - now : 0,
      whole.count >= this.limits.perClient ? whole.resetAt - now : 0,
    );
    if (wait > 0) return { kind: 'over', retryAfterMs: wait };
    pair.count++;
    whole.count++;
    return {
      kind: 'reserved',
      release: () => {
        if (this.#windows.peek(client) === whole) whole.count = Math.max(0, whole.count - 1);
        if (this.#windows.peek(pairKey) === pair) this.#windows.delete(pairKey);
      },
    };
  }

  async close(): Promise<void> {}

  /** The current window of `key`, started afresh when the last one ended. */
  #window(key: string, now: number): Window {
    let w = this.#windows.get(key);
    if (!w || w.resetAt <= now) {
      w = { count: 0, resetAt: now + this.limits.windowMs };
      this.#windows.set(key, w);
    }
    return w;
  }
}
