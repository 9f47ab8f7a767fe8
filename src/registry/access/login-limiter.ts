import { clientKey } from './client-key';

/** Limits on logins: failures per window, and logins being checked at once. */
export interface LoginLimits {
  windowMs: number;
  /** Attempts not (yet) known to have succeeded, for one user name from one client address, per window. */
  perClientAndUser: number;
  /** The same, from one client address across all user names. */
  perClient: number;
  /** Logins being checked at once, from everyone; more are refused at once (the hash pool's queue bound). */
  maxInFlight: number;
  /** Most keys tracked at once; the oldest are forgotten first. Default 100000. */
  maxKeys?: number;
}

interface Window {
  /** Failed attempts plus attempts still being checked. */
  count: number;
  resetAt: number;
}

/** A reservation for one attempt, settled exactly once with its outcome. */
export interface LoginTicket {
  settle(succeeded: boolean): void;
}

/** Admitted (with a ticket to settle), or refused: over a failure budget (`rate`), or too many logins in flight (`busy`). */
export type Admission =
  | { kind: 'admitted'; ticket: LoginTicket }
  | { kind: 'refused'; reason: 'rate' | 'busy'; retryAfterMs: number };

/** How long a client refused for `busy` is asked to wait. */
const BUSY_RETRY_MS = 1000;

/**
 * Counts login attempts per (client, user) and per client in fixed windows,
 * and bounds the logins in flight. An attempt is counted when it is admitted,
 * before its credentials are checked (reserve, then settle): a success gives
 * its reservation back, a failure keeps it. So concurrent attempts cannot
 * slip past the budget while earlier ones are still being checked: at most
 * `perClientAndUser` guesses per user per client and window are ever checked.
 * `user` must already be normalised (see `loginKey`); client addresses are
 * keyed by `clientKey` (IPv6 by /64).
 */
export class LoginLimiter {
  readonly #windows = new Map<string, Window>();
  #inFlight = 0;

  constructor(private readonly limits: LoginLimits) {}

  /** Logins admitted and not yet settled. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Reserves one attempt, or says why not and for how long. */
  admit(client: string, user: string): Admission {
    const now = Date.now();
    const c = clientKey(client);
    const pair = this.#window(`${c}\n${user}`, now);
    const whole = this.#window(c, now);
    const over = [
      pair.count >= this.limits.perClientAndUser ? pair.resetAt - now : 0,
      whole.count >= this.limits.perClient ? whole.resetAt - now : 0,
    ];
    const wait = Math.max(...over);
    if (wait > 0) return { kind: 'refused', reason: 'rate', retryAfterMs: wait };
    if (this.#inFlight >= this.limits.maxInFlight) return { kind: 'refused', reason: 'busy', retryAfterMs: BUSY_RETRY_MS };
    pair.count++;
    whole.count++;
    this.#inFlight++;
    let settled = false;
    return {
      kind: 'admitted',
      ticket: {
        settle: (succeeded) => {
          if (settled) return;
          settled = true;
          this.#inFlight--;
          if (!succeeded) return;
          if (this.#windows.get(c) === whole) whole.count = Math.max(0, whole.count - 1);
          if (this.#windows.get(`${c}\n${user}`) === pair) this.#windows.delete(`${c}\n${user}`);
        },
      },
    };
  }

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
