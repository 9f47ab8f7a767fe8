/** The failure budgets a store keeps: attempts per window, per (client, user) and per client. */
export interface LimitWindows {
  windowMs: number;
  perClientAndUser: number;
  perClient: number;
}

/** One attempt counted in both windows (give it back with `release` when it succeeded), or a refusal with how long to wait. */
export type Reservation = { kind: 'reserved'; release(): void } | { kind: 'over'; retryAfterMs: number };

/**
 * Where login attempts are counted (the LoginLimiter's windows).
 *
 * `reserve` checks both budgets and counts the attempt in both, atomically
 * with respect to every other caller of the same store (so concurrent
 * attempts, from any replica sharing the store, cannot pass the budget).
 * `release` gives a reservation back: the (client, user) window is cleared
 * and the client's count lowered by one, as after a successful login.
 *
 * `reserve` never rejects: a store that cannot reach its backend answers
 * from a local fallback (and says so in its metric and log), so logins are
 * neither let through uncounted nor refused because of the store.
 * Safe under concurrency. `close()` releases connections; idempotent.
 */
export interface LoginLimitStore {
  /** `memory` or `redis`, for logs. */
  readonly kind: string;
  /** `client` is already keyed (clientKey), `user` normalised (loginKey). */
  reserve(client: string, user: string): Promise<Reservation>;
  close(): Promise<void>;
}
