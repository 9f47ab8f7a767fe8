import { Readable } from 'node:stream';
import type { Response } from 'express';
import { sendFileApplies, sendFileRange } from '../http/zero-copy';
import { FileReads } from './file-reads';

const CHUNK = 1024 * 1024;
/** A client sent a fill by the native relay waits for this much new data (or the end) per call. */
const SEND_STEP = 8 * 1024 * 1024;

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
  /** Each waiter with the `written` it waits for (settling wakes all). */
  readonly #waiters = new Map<() => void, number>();

  constructor(
    readonly digest: string,
    readonly size: number,
    /** The upstream's relayed headers for a full GET. */
    readonly headers: Record<string, string>,
    readonly tmpPath: string,
  ) {}

  /**
   * Calls `wake` once: when `written` reaches `until` (default: any progress)
   * or the fill settles. A waiter that needs megabytes is not woken for
   * every chunk on the way.
   */
  wait(wake: () => void, until = this.written + 1): void {
    this.#waiters.set(wake, until);
  }

  progress(bytes: number): void {
    this.written += bytes;
    this.#notify((until) => until <= this.written);
  }

  settle(state: 'verified' | 'failed' | 'broken', error?: Error): void {
    this.state = state;
    this.error = error;
    this.#notify(() => true);
  }

  #notify(due: (until: number) => boolean): void {
    const woken: (() => void)[] = [];
    for (const [wake, until] of this.#waiters) if (due(until)) woken.push(wake);
    for (const wake of woken) this.#waiters.delete(wake);
    for (const wake of woken) wake();
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
  readonly #file: FileReads;

  constructor(
    private readonly fill: Fill,
    private readonly fd: number,
    private readonly fetchRest: RestFetcher,
    private readonly onDone: (fromDisk: number) => void,
  ) {
    super({ highWaterMark: CHUNK });
    this.#file = new FileReads(fd);
  }

  override _read(): void {
    if (this.destroyed) return;
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
      this.#file.read(want, this.#position, (err, chunk) => {
        if (this.destroyed) return;
        if (err) return this.#continueFromUpstream();
        if (chunk.length === 0) return this.destroy(new Error('cache fill file is shorter than written'));
        this.#position += chunk.length;
        this.#fromDisk += chunk.length;
        this.push(chunk);
      });
      return;
    }
    if (fill.state === 'failed') this.destroy(fill.error ?? new Error('cache fill failed'));
    else if (fill.state === 'broken') this.#continueFromUpstream();
    else fill.wait(() => !this.destroyed && this._read());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#rest?.destroy();
    this.#file.close(() => {
      this.onDone(this.#fromDisk);
      callback(error);
    });
  }

  /**
   * Sends the fill to the client from the native relay, range after range as the
   * file grows (the last byte after verification), and ends the response;
   * undefined when the native path does not apply. A failed fill cuts the
   * client; a broken one continues from the upstream through user space.
   */
  sendTo(res: Response): Promise<number> | undefined {
    const { fill } = this;
    if (!sendFileApplies(res, fill.size)) return undefined;
    return (async () => {
      try {
        while (this.#position < fill.size) {
          const available = fill.state === 'verified' ? fill.size : Math.min(fill.written, fill.size - 1);
          const ready = available - this.#position;
          if (ready > 0 && (ready >= SEND_STEP || fill.state !== 'filling')) {
            // While the fill runs, its clients yield the CPU to it: they all wait for its end.
            const sent = await sendFileRange(res, this.fd, this.#position, ready, fill.state === 'filling');
            this.#position += sent;
            this.#fromDisk += sent;
            continue;
          }
          if (fill.state === 'failed') throw fill.error ?? new Error('cache fill failed');
          if (fill.state === 'broken') {
            await this.#writeRest(res);
            break;
          }
          await new Promise<void>((wake) => fill.wait(wake, this.#position + SEND_STEP));
        }
        res.end();
        return this.#position;
      } catch (err) {
        res.destroy();
        throw err;
      } finally {
        this.destroy();
      }
    })();
  }

  /** Writes the rest of the blob from the upstream to the client, with backpressure. */
  async #writeRest(res: Response): Promise<void> {
    const rest = await this.fetchRest(this.#position);
    for await (const chunk of rest as AsyncIterable<Buffer>) {
      this.#position += chunk.length;
      if (res.write(chunk)) continue;
      await new Promise<void>((drained, closed) => {
        const onDrain = () => {
          res.off('close', onClose);
          drained();
        };
        const onClose = () => {
          res.off('drain', onDrain);
          closed(new Error('client went away'));
        };
        res.once('drain', onDrain);
        res.once('close', onClose);
      });
    }
    if (this.#position !== this.fill.size) throw new Error('upstream ended early');
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
