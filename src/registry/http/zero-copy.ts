import { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { TLSSocket } from 'node:tls';
import type { Response } from 'express';
import { type NativeAddon, native } from '../native';
import { checkRelayInternals, isWritingResponse, socketFd, stopReading } from './node-internals';

/**
 * Zero-copy blob relay. A Node.js proxy copies every byte of a blob into user
 * space and back, which on loopback leaves it 0.3–0.45× of the throughput the
 * upstream reaches by itself. When both sides are plain TCP and the length is
 * known, the facade hands the rest of the body to a native relay
 * (`splice/splice.c`): splice(2) through a pipe on a thread of its own, the
 * bytes never leaving the kernel. A cache hit goes from its file to the
 * socket on such a thread too, through a buffer of up to 512 KiB (`sendFile`).
 * Anything else (TLS on either side, a chunked body, a small blob, the add-on
 * not built) takes the streaming path.
 * It relies on Node.js internals (a TCP handle's `fd`, `readStop()` and
 * `reading`, a socket's `_httpMessage`), reached only through
 * ./node-internals, which checks them at start-up (`zeroCopyProblem`).
 */

/** Below this many bytes a blob is streamed: the native hand-over costs more than it saves. */
const MIN_BYTES = 256 * 1024;

/**
 * Why the relay cannot be used in this process (the add-on is missing, or the
 * Node.js internals it needs are not as it expects), or undefined when it can.
 * Checked once; the facade calls it at start-up and streams when it says why.
 */
export async function zeroCopyProblem(): Promise<string | undefined> {
  return native.available ? checkRelayInternals() : native.reason;
}

/** The file descriptor behind a plain TCP socket; undefined for TLS or anything without one. */
function fdOf(socket: Socket | null | undefined): number | undefined {
  if (!socket || socket instanceof TLSSocket || socket.destroyed) return undefined;
  return socketFd(socket);
}

/**
 * Writes `body` (already announced by the status and headers set on `res`)
 * with the native relay, and resolves with the bytes written; or returns
 * undefined, having touched nothing, when the relay does not apply. The
 * upstream connection is closed afterwards (its parser never sees the body),
 * so this is for blobs only. Rejects, after the client connection is cut,
 * when either side fails or the upstream pauses for `stallMs`.
 */
export function spliceBody(res: Response, body: NodeJS.ReadableStream, stallMs: number): Promise<number> | undefined {
  if (!native.available || !(body instanceof IncomingMessage)) return undefined;
  const length = Number(body.headers['content-length']);
  const upstream = body.socket;
  const client = res.socket;
  const fromFd = fdOf(upstream);
  const toFd = fdOf(client);
  if (!(length >= MIN_BYTES) || fromFd === undefined || toFd === undefined || body.readableFlowing || !isWritingResponse(client!, res)) return undefined;
  const prefix = takeOver(body).subarray(0, length);
  const addon = native.addon;
  return (async () => {
    try {
      if (prefix.length > 0) await new Promise<void>((done, fail) => res.write(prefix, (err) => (err ? fail(err) : done())));
      else res.flushHeaders();
      await flushed(client!, stallMs);
      const moved = length === prefix.length ? 0 : await new Promise<number>((done, fail) => {
        // Looked up again, in the same synchronous step as the native call's dup(): had Node closed
        // either socket meanwhile, its number could already belong to another connection.
        const from = fdOf(upstream);
        const to = fdOf(client);
        if (from !== fromFd || to !== toFd) return fail(new Error('zero-copy relay: a connection closed before the relay started'));
        const abort = addon.start(from, to, length - prefix.length, stallMs, (error, bytes) => {
          client!.off('close', abort);
          if (error) fail(new Error(`zero-copy relay: ${error}`));
          else done(bytes);
        });
        client!.once('close', abort);
      });
      res.end();
      return prefix.length + moved;
    } catch (err) {
      res.destroy();
      throw err;
    } finally {
      upstream.destroy();
    }
  })();
}

/**
 * Writes `length` bytes of an open file from `offset` (the body already
 * announced by the status and headers set on `res`) on a native relay
 * thread (pread(2) and write(2) through one buffer, off the event loop), ends the response and resolves with the bytes
 * written; or returns undefined, having touched nothing, when it does not
 * apply (see `sendFileApplies`). The caller keeps `fd` open until the promise
 * settles. Rejects, after the client connection is cut, when the client goes
 * away or the file is shorter than announced.
 */
export function sendFile(res: Response, fd: number, offset: number, length: number): Promise<number> | undefined {
  if (!sendFileApplies(res, length)) return undefined;
  return (async () => {
    const moved = await sendFileRange(res, fd, offset, length);
    res.end();
    return moved;
  })();
}

/** True when a body of `length` bytes can go to `res` from a native thread: plain TCP, the add-on loaded, not a small body. */
export function sendFileApplies(res: Response, length: number): boolean {
  const client = res.socket;
  return native.available && length >= MIN_BYTES && fdOf(client) !== undefined && isWritingResponse(client!, res);
}

/**
 * Writes one range of a file to the client from a native thread, after the
 * response headers and anything Node still buffers; the response stays open
 * for more (a caller serving a growing file sends range after range, then
 * ends it). Only after `sendFileApplies` said yes. `background` runs the send
 * at a lower CPU priority (a client catching up with a cache fill yields to
 * the fill). Rejects, after the client connection is cut, when the client
 * goes away or the file is too short.
 */
export async function sendFileRange(res: Response, fd: number, offset: number, length: number, background = false): Promise<number> {
  const client = res.socket!;
  const addon = (native as { addon: NativeAddon }).addon;
  try {
    res.flushHeaders();
    await flushed(client, 60_000);
    return await new Promise<number>((done, fail) => {
      const to = fdOf(client);
      if (to === undefined) return fail(new Error('zero-copy send: the client closed before the send started'));
      const abort = addon.sendFile(fd, to, offset, length, (error, bytes) => {
        client.off('close', abort);
        if (error) fail(new Error(`zero-copy send: ${error}`));
        else done(bytes);
      }, background);
      client.once('close', abort);
    });
  } catch (err) {
    res.destroy();
    throw err;
  }
}

/**
 * Stops Node.js reading the upstream socket and returns the body bytes it had
 * already read: the parsed ones queued in `body`, then any raw ones still in
 * the socket. `reading` stays true so that nothing in Node restarts the reads.
 */
function takeOver(body: IncomingMessage): Buffer {
  const socket = body.socket;
  stopReading(socket);
  socket.removeAllListeners('data');
  body.on('error', () => {});
  socket.on('error', () => {});
  body.pause();
  const chunks: Buffer[] = [];
  for (let chunk = body.read(); chunk !== null; chunk = body.read()) chunks.push(chunk as Buffer);
  for (let chunk = socket.read(); chunk !== null; chunk = socket.read()) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Resolves once everything written to `socket` has reached the kernel (the native relay writes after it). */
async function flushed(socket: Socket, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (socket.writableLength > 0) {
    if (socket.destroyed || Date.now() > deadline) throw new Error('zero-copy relay: client socket did not drain');
    await nextTurn();
  }
}
