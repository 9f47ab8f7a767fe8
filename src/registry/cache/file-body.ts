import { close, read } from 'node:fs';
import { Readable } from 'node:stream';
import type { Response } from 'express';
import { sendFile } from '../http/zero-copy';

const CHUNK = 1024 * 1024;

/**
 * A blob body read from a cached file: `length` bytes of the open file `fd`
 * from `offset`. Read as a stream it copies through user space; `sendTo`
 * hands it to the native relay's sendfile(2) instead when that applies. The
 * file descriptor is closed, and `onDone(bytesSent)` called, exactly once
 * when the body ends or is destroyed.
 */
export class FileBody extends Readable {
  #position: number;
  readonly #end: number;
  #sent = 0;
  #reading = false;
  #afterRead?: () => void;

  constructor(
    readonly fd: number,
    readonly offset: number,
    readonly length: number,
    private readonly onDone: (bytesSent: number) => void,
  ) {
    super({ highWaterMark: CHUNK });
    this.#position = offset;
    this.#end = offset + length;
  }

  override _read(): void {
    const want = Math.min(CHUNK, this.#end - this.#position);
    if (want <= 0) {
      this.push(null);
      return;
    }
    this.#reading = true;
    read(this.fd, Buffer.allocUnsafe(want), 0, want, this.#position, (err, bytes, buffer) => {
      this.#readDone();
      if (this.destroyed) return;
      if (err) return this.destroy(err);
      if (bytes === 0) return this.destroy(new Error('cached blob is shorter than its index says'));
      this.#position += bytes;
      this.#sent += bytes;
      this.push(buffer.subarray(0, bytes));
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // The descriptor is closed only once no read is in flight: its number could be reused meanwhile.
    this.#afterRead = () => close(this.fd, () => {
      this.onDone(this.#sent);
      callback(error);
    });
    if (!this.#reading) this.#readDone();
  }

  #readDone(): void {
    this.#reading = false;
    const then = this.#afterRead;
    this.#afterRead = undefined;
    then?.();
  }

  /** Sends the body with sendfile(2) and resolves with the bytes sent, or undefined when the native path does not apply. */
  sendTo(res: Response): Promise<number> | undefined {
    const sending = sendFile(res, this.fd, this.offset, this.length);
    if (!sending) return undefined;
    return sending.then(
      (bytes) => {
        this.#sent = bytes;
        this.destroy();
        return bytes;
      },
      (err: Error) => {
        this.destroy();
        throw err;
      },
    );
  }
}
