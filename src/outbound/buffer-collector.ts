import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Options of startBufferCollector; the defaults are what the proxy uses. */
export interface BufferCollectorOptions {
  /** Growth of V8's external (array-buffer) memory since its last low that triggers a collection. Default 4 MiB. */
  stepBytes?: number;
  /** How often the growth is checked. Default 5 ms. */
  intervalMs?: number;
}

type GcFunction = (options: { type: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

/**
 * Keeps the garbage of streamed bodies small, so that the proxy's RSS stays
 * near its idle size while gigabytes pass through.
 *
 * Every body chunk node:http hands over is a fresh ArrayBuffer (the HTTP
 * parser copies each chunk out of the socket's read buffer). V8 frees them
 * only at a young-generation collection, which JavaScript allocation rarely
 * triggers during a stream; its own trigger for buffer memory fires only once
 * 32 MB of young buffers have piled up (2 × the default maximum semi-space,
 * not tunable by flag), and a full-speed stream of either direction then holds
 * 35–55 MB of dead buffers. This checks V8's external memory (cheap, no system call) every
 * `intervalMs` and, when it has grown by `stepBytes` since its last low, runs
 * a young-generation collection (well under a millisecond with a small live
 * heap). It enables `--expose-gc` for that, as documented for
 * `v8.setFlagsFromString`; the timer does not keep the process alive.
 */
export function startBufferCollector(options: BufferCollectorOptions = {}): { stop(): void } {
  const stepBytes = options.stepBytes ?? 4 * 1024 * 1024;
  const gc = exposeGc();
  let low = getHeapStatistics().external_memory;
  const timer = setInterval(() => {
    const now = getHeapStatistics().external_memory;
    if (now - low > stepBytes) {
      gc({ type: 'minor' });
      low = getHeapStatistics().external_memory;
    } else if (now < low) {
      low = now;
    }
  }, options.intervalMs ?? 5);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

function exposeGc(): GcFunction {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as GcFunction;
}
