interface Flight<T> {
  promise: Promise<T>;
  controller: AbortController;
  waiters: number;
}

/**
 * Runs one piece of work per key at a time and shares its result with every
 * caller that asks for the same key meanwhile. Each caller may give up on its
 * own (its signal aborts: it is rejected with the signal's reason at once);
 * the work itself is aborted only when every caller has given up.
 */
export class SingleFlight<T> {
  readonly #flights = new Map<string, Flight<T>>();

  /** Number of keys with work in progress. */
  get size(): number {
    return this.#flights.size;
  }

  run(key: string, signal: AbortSignal, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (signal.aborted) return Promise.reject(signal.reason);
    let flight = this.#flights.get(key);
    if (!flight) {
      const controller = new AbortController();
      const created: Flight<T> = { controller, waiters: 0, promise: Promise.resolve().then(() => work(controller.signal)) };
      created.promise
        .catch(() => undefined)
        .finally(() => {
          if (this.#flights.get(key) === created) this.#flights.delete(key);
        });
      this.#flights.set(key, created);
      flight = created;
    }
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
