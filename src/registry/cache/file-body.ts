import { Readable } from 'node:stream';
import type { Response } from 'express';
import { sendFile } from '../http/zero-copy';
import { FileReads } from './file-reads';

const CHUNK = 1024 * 1024;

/**
 * A blob body read from a cached file: `length` bytes of the open file `fd`
 * from `offset`. Read as a stream it copies through user space; `sendTo`
 * hands it to the native relay's file thread instead when that applies. The
 * file descriptor is closed, and `onDone(bytesSent)` called, exactly once
 * when the body ends or is destroyed.
 */
export class FileBody extends Readable {
  #position: number;
  readonly #end: number;
  #sent = 0;
  readonly #file: FileReads;

  constructor(
    readonly fd: number,
    readonly offset: number,
    readonly length: number,
    private readonly onDone: (bytesSent: number) => void,
  ) {
    super({ highWaterMark: CHUNK });
    this.#position = offset;
    this.#end = offset + length;
    this.#file = new FileReads(fd);
  }

  override _read(): void {
    const want = Math.min(CHUNK, this.#end - this.#position);
    if (want <= 0) {
      this.push(null);
      return;
    }
    this.#file.read(want, this.#position, (err, chunk) => {
      if (this.destroyed) return;
      if (err) return this.destroy(err);
      if (chunk.length === 0) return this.destroy(new Error('cached blob is shorter than its index says'));
      this.#position += chunk.length;
      this.#sent += chunk.length;
      this.push(chunk);
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#file.close(() => {
      this.onDone(this.#sent);
      callback(error);
    });
  }

  /** Sends the body from the native relay's file thread and resolves with the bytes sent, or undefined when the native path does not apply. */
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
