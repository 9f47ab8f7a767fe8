import { close, read } from 'node:fs';
import { Readable } from 'node:stream';

const CHUNK = 1024 * 1024;

/**
 * One upstream fetch of one blob into a temporary file, shared by every
 * client asking for that digest meanwhile. `written` grows as the body
 * arrives; `state` ends as `verified` (the digest matched, the file is the
 * cache entry), `failed` (the upstream broke or the digest did not match:
 * clients are cut) or `broken` (the disk failed: clients continue from the
 * upstream). Waiters are called on every change.
 */
export class Fill {
  written = 0;
  state: 'filling' | 'verified' | 'failed' | 'broken' = 'filling';
  error?: Error;
  readonly #waiters = new Set<() => void>();

  constructor(
    readonly digest: string,
    readonly size: number,
    /** The upstream's relayed headers for a full GET. */
    readonly headers: Record<string, string>,
    readonly tmpPath: string,
  ) {}

  /** Calls `wake` once, at the next change. */
  wait(wake: () => void): void {
    this.#waiters.add(wake);
  }

  progress(bytes: number): void {
    this.written += bytes;
    this.#notify();
  }

  settle(state: 'verified' | 'failed' | 'broken', error?: Error): void {
    this.state = state;
    this.error = error;
    this.#notify();
  }

  #notify(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }
}

/** Fetches the rest of a blob from `offset` from the upstream (a ranged GET), for a fill whose disk failed. */
export type RestFetcher = (offset: number) => Promise<Readable>;

/**
 * One client's view of a fill: the body read from the growing file at the
 * pace the fill allows. The last byte is held back until the digest is
 * verified, so a client never completes a wrong blob: on `failed` the stream
 * errors (the relay then cuts the connection). On `broken` it continues with
 * the upstream's bytes from where the file stopped. `onDone(fromDisk)` is
 * called once, when the stream closes.
 */
export class FillReader extends Readable {
  #position = 0;
  #rest?: Readable;
  #fromDisk = 0;

  constructor(
    private readonly fill: Fill,
    private readonly fd: number,
    private readonly fetchRest: RestFetcher,
    private readonly onDone: (fromDisk: number) => void,
  ) {
    super({ highWaterMark: CHUNK });
  }

  override _read(): void {
    if (this.#rest) {
      this.#rest.resume();
      return;
    }
    const { fill } = this;
    if (this.#position >= fill.size) {
      this.push(null);
      return;
    }
    const available = fill.state === 'verified' ? fill.size : Math.min(fill.written, fill.size - 1);
    if (this.#position < available) {
      const want = Math.min(CHUNK, available - this.#position);
      read(this.fd, Buffer.allocUnsafe(want), 0, want, this.#position, (err, bytes, buffer) => {
        if (err) return this.#continueFromUpstream();
        if (bytes === 0) return this.destroy(new Error('cache fill file is shorter than written'));
        this.#position += bytes;
        this.#fromDisk += bytes;
        this.push(buffer.subarray(0, bytes));
      });
      return;
    }
    if (fill.state === 'failed') this.destroy(fill.error ?? new Error('cache fill failed'));
    else if (fill.state === 'broken') this.#continueFromUpstream();
    else fill.wait(() => this._read());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#rest?.destroy();
    close(this.fd, () => {
      this.onDone(this.#fromDisk);
      callback(error);
    });
  }

  #continueFromUpstream(): void {
    if (this.#rest) return;
    this.fetchRest(this.#position).then(
      (rest) => {
        if (this.destroyed) return void rest.destroy();
        this.#rest = rest;
        rest.on('data', (chunk: Buffer) => {
          this.#position += chunk.length;
          if (!this.push(chunk)) rest.pause();
        });
        rest.once('end', () => (this.#position === this.fill.size ? this.push(null) : this.destroy(new Error('upstream ended early'))));
        rest.once('error', (err) => this.destroy(err));
      },
      (err: Error) => this.destroy(err),
    );
  }
}
