/** A cancellable timer handle. */
export interface Timer {
  cancel(): void;
}

/**
 * Time as the token cache sees it. Tests pass a fake clock they move by hand;
 * production uses the system clock, whose timers never keep the process alive.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Calls `fn` once after `ms`. */
  setTimer(fn: () => void, ms: number): Timer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};
