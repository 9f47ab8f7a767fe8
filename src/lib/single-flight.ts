interface Flight<T> {
  promise: Promise<T>;
  controller: AbortController;
  waiters: number;
}

/**
 * The one in-flight coalescer, for work whose result is not kept (a pull, a
 * reload, a mint that a cache entry already owns); a result worth keeping
 * goes through BoundedCache's `load` instead. Runs one piece of work per key
 * at a time and shares its outcome with every caller that asks for the same
 * key meanwhile. The work starts at once (synchronously) and the key is free
 * again before any caller sees the outcome. Each caller may give up on its own (its signal aborts: it is
 * rejected with the signal's reason at once); the work itself is aborted only
 * when every caller has given up.
 */
export class SingleFlight<T, K = string> {
  readonly #flights = new Map<K, Flight<T>>();

  /** Number of keys with work in progress. */
  get size(): number {
    return this.#flights.size;
  }

  /** True while work for the key is in progress. */
  has(key: K): boolean {
    return this.#flights.has(key);
  }

  /** The work's outcome for `key`, shared with concurrent callers; `signal` lets this caller give up. */
  run(key: K, work: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    let flight = this.#flights.get(key);
    if (!flight) {
      const controller = new AbortController();
      let started: Promise<T>;
      try {
        started = Promise.resolve(work(controller.signal));
      } catch (err) {
        started = Promise.reject(err);
      }
      const created: Flight<T> = {
        controller,
        waiters: 0,
        promise: started.finally(() => {
          if (this.#flights.get(key) === created) this.#flights.delete(key);
        }),
      };
      created.promise.catch(() => undefined);
      this.#flights.set(key, created);
      flight = created;
    }
    if (!signal) return flight.promise;
    const joined = flight;
    joined.waiters += 1;
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const leave = () => {
        done = true;
        signal.removeEventListener('abort', onAbort);
        joined.waiters -= 1;
      };
      const onAbort = () => {
        if (done) return;
        leave();
        if (joined.waiters === 0) {
          if (this.#flights.get(key) === joined) this.#flights.delete(key);
          joined.controller.abort(signal.reason);
        }
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      joined.promise.then(
        (value) => {
          if (done) return;
          leave();
          resolve(value);
        },
        (err) => {
          if (done) return;
          leave();
          reject(err);
        },
      );
    });
  }
}

/** Resolves or rejects as `promise` does, or rejects with the signal's reason as soon as it aborts. */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
