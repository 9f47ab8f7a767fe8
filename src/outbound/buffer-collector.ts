import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { performance } from 'node:perf_hooks';
import { runInNewContext } from 'node:vm';

/** Options of startBufferCollector; the defaults are what the proxy uses. */
export interface BufferCollectorOptions {
  /** Growth of V8's external (array-buffer) memory since its last low that triggers a collection. Default 2 MiB. */
  stepBytes?: number;
  /** Check interval while that memory grows (bodies streaming). Default 2 ms. */
  busyMs?: number;
  /** Check interval while it does not. Default 20 ms. */
  idleMs?: number;
}

type GcFunction = (options: { type: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

/** Growth between two checks that counts as streaming, and how long checks stay frequent after it (or after a collection). */
const BUSY_BYTES = 256 * 1024;
const BUSY_LINGER_MS = 1000;

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
 * 35–55 MB of dead buffers. This reads V8's external memory (cheap, no system
 * call) every `idleMs`, every `busyMs` for a second after it grew or was collected, and when it has grown by
 * `stepBytes` since its last low runs a young-generation collection (a fraction
 * of a millisecond with the proxy's small live heap). It enables `--expose-gc`
 * for that through `v8.setFlagsFromString`; the timer does not keep the
 * process alive.
 */
export function startBufferCollector(options: BufferCollectorOptions = {}): { stop(): void } {
  const stepBytes = options.stepBytes ?? 2 * 1024 * 1024;
  const busyMs = options.busyMs ?? 2;
  const idleMs = options.idleMs ?? 20;
  const gc = exposeGc();
  let low = getHeapStatistics().external_memory;
  let last = low;
  let busyUntil = 0;
  let timer: NodeJS.Timeout;
  const check = () => {
    const now = getHeapStatistics().external_memory;
    const t = performance.now();
    if (now - last > BUSY_BYTES) busyUntil = t + BUSY_LINGER_MS;
    if (now - low > stepBytes) {
      gc({ type: 'minor' });
      low = getHeapStatistics().external_memory;
      busyUntil = t + BUSY_LINGER_MS;
    } else if (now < low) {
      low = now;
    }
    last = now;
    timer = setTimeout(check, t < busyUntil ? busyMs : idleMs).unref();
  };
  timer = setTimeout(check, idleMs).unref();
  return { stop: () => clearTimeout(timer) };
}

function exposeGc(): GcFunction {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as GcFunction;
}
