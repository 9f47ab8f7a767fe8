import { close, read } from 'node:fs';

/**
 * Positional reads of one open file descriptor, which is closed exactly once
 * and never while a read is in flight: a number closed under a pending read
 * could be handed to another open meanwhile, and the read would then land in
 * another file. The one implementation of that protocol for the cache's
 * bodies (FileBody, FillReader).
 */
export class FileReads {
  #reading = false;
  #closing?: () => void;
  #closed = false;

  constructor(readonly fd: number) {}

  /**
   * Reads up to `length` bytes at `position`. `done` gets the bytes read (an
   * empty buffer at the end of the file); it is not called when `close` was
   * asked for meanwhile.
   */
  read(length: number, position: number, done: (err: Error | null, chunk: Buffer) => void): void {
    this.#reading = true;
    read(this.fd, Buffer.allocUnsafe(length), 0, length, position, (err, bytes, buffer) => {
      this.#reading = false;
      const closing = this.#closing;
      if (closing) return closing();
      done(err, err ? Buffer.alloc(0) : buffer.subarray(0, bytes));
    });
  }

  /** Closes the descriptor, after the read in flight if any, then calls `then`; later calls do nothing. */
  close(then: () => void): void {
    if (this.#closed) return;
    this.#closed = true;
    const closeNow = () => close(this.fd, () => then());
    if (this.#reading) this.#closing = closeNow;
    else closeNow();
  }
}
