import type { Readable } from 'node:stream';
import { RegistryError } from '../errors';

/** Largest manifest read into memory (distribution's own limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** Reads a manifest body whole; larger than MAX_MANIFEST_BYTES is SIZE_INVALID. */
export async function readManifest(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_MANIFEST_BYTES) {
      body.destroy();
      throw new RegistryError('SIZE_INVALID', 'manifest too large', { limit: MAX_MANIFEST_BYTES });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
