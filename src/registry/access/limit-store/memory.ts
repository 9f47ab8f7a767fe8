import type { LimitWindows, LoginLimitStore, Reservation } from './store';

interface Window {
  /** Failed attempts plus attempts still being checked. */
  count: number;
  resetAt: number;
}

/**
 * Login windows in this process's memory (the default, and the Redis store's
 * fallback): fixed windows that start at a key's first attempt, at most
 * `maxKeys` keys (default 100000), the oldest forgotten first.
 */
export class MemoryLimitStore implements LoginLimitStore {
  readonly kind = 'memory';
  readonly #windows = new Map<string, Window>();

  constructor(private readonly limits: LimitWindows & { maxKeys?: number }) {}

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
        if (this.#windows.get(client) === whole) whole.count = Math.max(0, whole.count - 1);
        if (this.#windows.get(pairKey) === pair) this.#windows.delete(pairKey);
      },
    };
  }

  async close(): Promise<void> {}

  /** The current window of `key`, started afresh when the last one ended. */
  #window(key: string, now: number): Window {
    let w = this.#windows.get(key);
    if (!w || w.resetAt <= now) {
      this.#windows.delete(key);
      this.#evict(now);
      w = { count: 0, resetAt: now + this.limits.windowMs };
      this.#windows.set(key, w);
    }
    return w;
  }

  #evict(now: number): void {
    const max = this.limits.maxKeys ?? 100_000;
    if (this.#windows.size < max) return;
    for (const [k, w] of this.#windows) if (w.resetAt <= now) this.#windows.delete(k);
    while (this.#windows.size >= max) this.#windows.delete(this.#windows.keys().next().value as string);
  }
}
