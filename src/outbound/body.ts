import type { IncomingMessage, ServerResponse } from 'node:http';

/** Most bytes held corked before they are written: a 64 KiB body with its head fits, a long download flushes every 128 KiB. */
const BURST_BYTES = 128 * 1024;

/**
 * Relays the upstream response body to the client with backpressure (the
 * upstream response is paused while the client socket is full), never held
 * whole.
 *
 * The client response is corked from the first chunk of a burst until the
 * end of that event-loop turn, the end of the body or BURST_BYTES, whichever
 * comes first, so that the response head and the body chunks that arrived
 * together leave in one `writev`: node:http otherwise writes the head, then
 * each chunk, each its own system call (three for a 64 KiB body read in two
 * socket reads). Backpressure is judged when the burst is flushed: the
 * upstream response is paused when the client socket did not take
 * everything (judging each corked write would pause and resume every
 * response larger than the socket's 16 KiB high-water mark). When the chunk
 * that opens a burst completes a Content-Length body, no flush is scheduled:
 * `end()`, a tick later, writes the lot.
 *
 * Cheaper than `pipe` too: two listeners on the source instead of pipe's
 * seven on both streams, which a proxy sets up per response. `count` gets
 * each chunk's length (the buffer collector's counter for this body).
 */
export function relayBody(from: IncomingMessage, to: ServerResponse, count: (bytes: number) => void): void {
  /** Bytes written since the cork; -1 = not corked. */
  let burst = -1;
  const resume = () => from.resume();
  const flush = () => {
    if (burst < 0) return;
    burst = -1;
    to.uncork();
    if (to.writableNeedDrain && to.writableLength > 0) {
      from.pause();
      to.once('drain', resume);
    }
  };
  /** Body bytes still to come when the upstream sent a Content-Length; NaN otherwise. */
  let left = Number(from.headers['content-length'] ?? NaN);
  from.on('data', (chunk: Buffer) => {
    left -= chunk.length;
    count(chunk.length);
    if (burst < 0) {
      burst = 0;
      to.cork();
      if (left !== 0) setImmediate(flush);
    }
    to.write(chunk);
    burst += chunk.length;
    if (burst >= BURST_BYTES) flush();
  });
  from.once('end', () => {
    burst = -1;
    to.end();
  });
}
