import { Readable } from 'node:stream';

/**
 * A body already held whole in memory (a manifest from a cache, or read
 * whole to record its links). It is a stream like any upstream body, and the
 * relay, seeing the bytes, writes them with the headers in one call instead
 * of piping: one write per answer and no stream machinery, which is most of
 * what a small answer costs.
 */
export class BufferBody extends Readable {
  constructor(readonly bytes: Buffer) {
    super();
  }

  override _read(): void {
    this.push(this.bytes);
    this.push(null);
  }
}
