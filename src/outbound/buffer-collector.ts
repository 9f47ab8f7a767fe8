import type { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** The first bytes of each body, which never count: a body this short is left to V8's own collections. */
export const LONG_BODY_BYTES = 1024 * 1024;

/** Bytes of long bodies between two collections. */
const STEP_BYTES = 2 * 1024 * 1024;

type GcFunction = (options: { type: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

let exposed: GcFunction | undefined;

/**
 * Keeps the garbage of long streamed bodies small, so that the proxy's RSS
 * stays near its idle size while gigabytes pass through.
 *
 * Every body chunk node:http (or a joined socket) hands over is a fresh
 * ArrayBuffer that V8 frees only at a young-generation collection, which
 * JavaScript allocation rarely triggers during a stream; V8's own trigger for
 * buffer memory fires only once 32 MB of young buffers have piled up (2 × the
 * default maximum semi-space, not tunable by flag), so a full-speed stream of
 * either direction holds 35–55 MB of dead buffers.
 *
 * The relays count the bytes of each body past its first LONG_BODY_BYTES,
 * and every STEP_BYTES of them this runs a young-generation collection (a
 * fraction of a millisecond with the proxy's small live heap). Short bodies
 * are not counted: many requests in flight keep their buffers alive through
 * a forced collection, so collecting for them costs far more than the memory
 * it saves (64 KiB responses at saturation: 144 against 103 µs of CPU per
 * request, docs/benchmarks.md), and their garbage stays bounded by V8's own
 * trigger. `--expose-gc` is enabled through `v8.setFlagsFromString`.
 *
 * It also turns off V8's concurrent sweeping of array buffers: the memory of
 * dead buffers is returned (and V8's external-memory count lowered) by a
 * background task after each young-generation collection, and with both
 * cores saturated that task falls behind, the count crosses V8's
 * external-memory limit, and V8 answers with a full mark-compact again and
 * again (313 in a 50 s run against 32; 64 KiB responses then cost 300 µs of
 * CPU per request instead of 110–180, in 3 of 6 processes). Swept on the
 * main thread at each collection, the count stays current (6 of 6 processes
 * at 148–189 µs beside a bare Node pass-through at 173–189, same runs).
 */
export class BufferCollector {
  /** Collections run so far. */
  collections = 0;
  #since = 0;
  readonly #gc = exposeGc();

  /** A counter for one body or one direction of a joined connection: call it with each chunk's length. */
  body(free = LONG_BODY_BYTES): (bytes: number) => void {
    let seen = 0;
    return (bytes) => {
      seen += bytes;
      if (seen > free) this.#count(bytes);
    };
  }

  /** Counts the chunks `stream` emits (a body piped elsewhere, or one direction of a joined connection). */
  watch(stream: Readable, free = LONG_BODY_BYTES): void {
    const count = this.body(free);
    stream.on('data', (chunk: Buffer) => count(chunk.length));
  }

  #count(bytes: number): void {
    this.#since += bytes;
    if (this.#since < STEP_BYTES) return;
    this.#since = 0;
    this.collections++;
    this.#gc({ type: 'minor' });
  }
}

function exposeGc(): GcFunction {
  if (!exposed) {
    setFlagsFromString('--no-concurrent-array-buffer-sweeping');
    setFlagsFromString('--expose-gc');
    exposed = runInNewContext('gc') as GcFunction;
  }
  return exposed;
}
