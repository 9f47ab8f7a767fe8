/** Limits on failed logins within one window. */
export interface LoginLimits {
  windowMs: number;
  /** Failures allowed for one user name from one client address. */
  perClientAndUser: number;
  /** Failures allowed from one client address across all user names. */
  perClient: number;
  /** Most keys tracked at once; the oldest are forgotten first. Default 100000. */
  maxKeys?: number;
}

interface Window {
  failures: number;
  resetAt: number;
}

/**
 * Counts failed logins per (client, user) and per client in fixed windows.
 * While a key is over its limit, attempts are refused before the credentials
 * are checked, so a brute-force run costs the facade nothing and learns
 * nothing; other users, and the same user from other clients, are still
 * served.
 */
export class LoginLimiter {
  readonly #windows = new Map<string, Window>();

  constructor(private readonly limits: LoginLimits) {}

  /** Milliseconds until the client may try again, or 0 when it may try now. */
  blockedFor(client: string, user: string): number {
    const now = Date.now();
    const wait = (key: string, limit: number) => {
      const w = this.#windows.get(key);
      return w && w.resetAt > now && w.failures >= limit ? w.resetAt - now : 0;
    };
    return Math.max(wait(pairKey(client, user), this.limits.perClientAndUser), wait(client, this.limits.perClient));
  }

  failed(client: string, user: string): void {
    this.#bump(pairKey(client, user));
    this.#bump(client);
  }

  succeeded(client: string, user: string): void {
    this.#windows.delete(pairKey(client, user));
  }

  #bump(key: string): void {
    const now = Date.now();
    let w = this.#windows.get(key);
    if (!w || w.resetAt <= now) {
      this.#windows.delete(key);
      w = { failures: 0, resetAt: now + this.limits.windowMs };
      this.#evict(now);
      this.#windows.set(key, w);
    }
    w.failures++;
  }

  #evict(now: number): void {
    const max = this.limits.maxKeys ?? 100_000;
    if (this.#windows.size < max) return;
    for (const [k, w] of this.#windows) if (w.resetAt <= now) this.#windows.delete(k);
    while (this.#windows.size >= max) this.#windows.delete(this.#windows.keys().next().value as string);
  }
}

function pairKey(client: string, user: string): string {
  return `${client}\n${user}`;
}
