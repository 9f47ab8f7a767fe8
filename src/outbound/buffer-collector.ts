import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Takes note of relayed body bytes; see BufferCollector. */
export interface BodyBytes {
  /** `bytes` of body buffers were relayed and are garbage once written. */
  relayed(bytes: number): void;
}

type GcFunction = (options: { type: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

/** Body bytes between two collections. */
export const DEFAULT_STEP_BYTES = 4 * 1024 * 1024;

/**
 * Keeps the garbage of streamed bodies small, so that the proxy's RSS stays
 * near its idle size while gigabytes pass through.
 *
 * Every body chunk Node hands over is a fresh ArrayBuffer (a socket read
 * undici parses in place, or a chunk node:http's server parser copies out).
 * V8 frees them only at a young-generation collection, which JavaScript
 * allocation rarely triggers during a stream; its own trigger for buffer
 * memory fires only once 32 MB of young buffers have piled up (2 × the
 * default maximum semi-space, not tunable by flag), and a full-speed stream
 * then holds 35–70 MB of dead buffers. The forwarder counts the bytes it
 * relays in either direction; after every `stepBytes` of them this runs one
 * young-generation collection, batched to the next turn of the event loop.
 * Counting bytes, not polling a timer, ties the collections to the data: no
 * pile-up between two checks at full speed, nothing at all while idle. It
 * enables `--expose-gc` for that through `v8.setFlagsFromString`.
 */
export class BufferCollector implements BodyBytes {
  readonly #gc = exposeGc();
  #pending = 0;
  #scheduled = false;
  /** Collections run so far. */
  collections = 0;

  constructor(private readonly stepBytes = DEFAULT_STEP_BYTES) {}

  relayed(bytes: number): void {
    this.#pending += bytes;
    if (this.#pending < this.stepBytes || this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#pending = 0;
      this.collections += 1;
      this.#gc({ type: 'minor' });
    });
  }
}

function exposeGc(): GcFunction {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as GcFunction;
}
