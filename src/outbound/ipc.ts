import type { Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';

/** What the primary and its workers tell each other over the cluster IPC channel (JSON-serialized by Node). */
export type WorkerMessage =
  | { ig: 'call'; id: number; method: string; args: unknown }
  | { ig: 'reply'; id: number; ok: true; value: unknown }
  | { ig: 'reply'; id: number; ok: false; error: string }
  /** Worker → primary: the proxy listens. */
  | { ig: 'ready'; address: AddressInfo }
  /** Worker → primary: start-up failed; a ConfigError keeps its setting so that the primary reports the same line. */
  | { ig: 'failed'; setting?: string; problem: string }
  /** Primary → worker: stop accepting, drain for SHUTDOWN_GRACE, exit. */
  | { ig: 'drain' };

/** One end of the channel: `process` in a worker, a `cluster.Worker` in the primary. */
export interface Peer {
  send(message: WorkerMessage, callback: (err: Error | null) => void): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

export type Handler = (args: unknown) => Promise<unknown>;

/** A worker's channel to its primary (`process.send`, which exists only in a forked process). */
export function primaryPeer(): Peer {
  return {
    send: (message, callback) => (process.send ? process.send(message, undefined, {}, callback) : callback(new Error('no IPC channel'))),
    on: (event, listener) => process.on(event, listener),
    off: (event, listener) => process.off(event, listener),
  };
}

/** The primary's channel to one worker. */
export function workerPeer(worker: Worker): Peer {
  return {
    send: (message, callback) => worker.send(message, callback),
    on: (event, listener) => worker.on(event, listener),
    off: (event, listener) => worker.off(event, listener),
  };
}

/**
 * Sends one message. A closed channel is reported to `onError` (default:
 * ignored), never as an `error` event that would crash the process.
 */
export function post(peer: Peer, message: WorkerMessage, onError: (err: Error) => void = () => undefined): void {
  try {
    peer.send(message, (err) => err && onError(err));
  } catch (err) {
    onError(err as Error);
  }
}

/** Whether `m` is one of imagegate's messages (prom-client and Node use the same channel for their own). */
export function isWorkerMessage(m: unknown): m is WorkerMessage {
  return typeof m === 'object' && m !== null && typeof (m as { ig?: unknown }).ig === 'string';
}

/**
 * Request/response calls over the cluster IPC channel, both ways: each end
 * answers the methods it has handlers for. A call rejects with the remote
 * handler's error message, after `timeoutMs`, or when `close` is called
 * (the peer went away). Safe under concurrency; calls are matched by id.
 */
export class Rpc {
  #next = 1;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  readonly #listener: (m: unknown) => void;

  constructor(
    private readonly peer: Peer,
    handlers: Record<string, Handler>,
  ) {
    this.#listener = (m) => {
      if (!isWorkerMessage(m)) return;
      if (m.ig === 'reply') {
        const p = this.#pending.get(m.id);
        if (!p) return;
        this.#pending.delete(m.id);
        clearTimeout(p.timer);
        if (m.ok) p.resolve(m.value);
        else p.reject(new Error(m.error));
      } else if (m.ig === 'call') {
        const handler = handlers[m.method];
        const answer = handler ? handler(m.args) : Promise.reject(new Error(`no method ${m.method}`));
        answer.then(
          (value) => post(this.peer, { ig: 'reply', id: m.id, ok: true, value }),
          (err: unknown) => post(this.peer, { ig: 'reply', id: m.id, ok: false, error: (err as Error)?.message ?? String(err) }),
        );
      }
    };
    peer.on('message', this.#listener);
  }

  call<T>(method: string, args: unknown, timeoutMs: number): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${method}: no answer from the other process within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      post(this.peer, { ig: 'call', id, method, args }, () => {
        if (!this.#pending.delete(id)) return;
        clearTimeout(timer);
        reject(new Error(`${method}: the other process is gone`));
      });
    });
  }

  /** Rejects every pending call and stops listening. */
  close(reason = 'the other process is gone'): void {
    this.peer.off('message', this.#listener);
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new Error(reason));
    }
  }
}
