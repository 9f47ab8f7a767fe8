/** A body was longer than its reader's cap; the body has been destroyed (or cancelled). */
export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`body larger than ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** A Node stream (an IncomingMessage, a Readable) or a web ReadableStream (a fetch Response's body). */
export type Body = AsyncIterable<Uint8Array | string> & ({ destroy?: (err?: Error) => unknown } | { cancel?: (reason?: unknown) => unknown });

/**
 * The one way a body is read whole into memory: at most `limit` bytes.
 * Reading stops at the first chunk past the limit; the body is then destroyed
 * (a Node stream) or cancelled (a web stream), so the peer cannot keep the
 * reader busy or fill its memory, and BodyTooLargeError is thrown for the
 * caller to turn into its own answer (413, SIZE_INVALID, a log line...).
 */
export async function readCapped(body: Body, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    size += bytes.length;
    if (size > limit) {
      stop(body);
      throw new BodyTooLargeError(limit);
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks, size);
}

function stop(body: Body): void {
  if ('destroy' in body && typeof body.destroy === 'function') body.destroy();
  else if ('cancel' in body && typeof body.cancel === 'function') void Promise.resolve(body.cancel()).catch(() => undefined);
}
