import { clientKey } from './client-key';
import { MemoryLimitStore } from './limit-store/memory';
import type { LimitWindows, LoginLimitStore } from './limit-store/store';

/** Limits on logins: failures per window, and logins being checked at once. */
export interface LoginLimits extends LimitWindows {
  /** Logins being checked at once by this process, from everyone; more are refused at once (the hash pool's queue bound). */
  maxInFlight: number;
  /** Most keys the memory store tracks at once; the oldest are forgotten first. Default 100000. */
  maxKeys?: number;
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
 *
 * The windows live in a LoginLimitStore: this process's memory by default
 * (budgets per replica), or a shared store (Redis) so that the budgets hold
 * across replicas. The in-flight bound is always per process.
 */
export class LoginLimiter {
  readonly #store: LoginLimitStore;
  #inFlight = 0;

  constructor(private readonly limits: LoginLimits, store?: LoginLimitStore) {
    this.#store = store ?? new MemoryLimitStore(limits);
  }

  /** Logins admitted (or being admitted) and not yet settled. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Reserves one attempt, or says why not and for how long. */
  async admit(client: string, user: string): Promise<Admission> {
    if (this.#inFlight >= this.limits.maxInFlight) return { kind: 'refused', reason: 'busy', retryAfterMs: BUSY_RETRY_MS };
    this.#inFlight++;
    let reservation;
    try {
      reservation = await this.#store.reserve(clientKey(client), user);
    } catch (err) {
      this.#inFlight--;
      throw err;
    }
    if (reservation.kind === 'over') {
      this.#inFlight--;
      return { kind: 'refused', reason: 'rate', retryAfterMs: reservation.retryAfterMs };
    }
    let settled = false;
    return {
      kind: 'admitted',
      ticket: {
        settle: (succeeded) => {
          if (settled) return;
          settled = true;
          this.#inFlight--;
          if (succeeded) reservation.release();
        },
      },
    };
  }

  /** Closes the store. */
  close(): Promise<void> {
    return this.#store.close();
  }
}
