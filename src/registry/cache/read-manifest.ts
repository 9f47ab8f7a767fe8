import type { Readable } from 'node:stream';
import { BodyTooLargeError, readCapped } from '../../lib/read-capped';
import { RegistryError } from '../errors';

/** Largest manifest read into memory (distribution's own limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** Reads a manifest body whole; larger than MAX_MANIFEST_BYTES is SIZE_INVALID. */
export function readManifest(body: Readable): Promise<Buffer> {
  return readCapped(body, MAX_MANIFEST_BYTES).catch((err: unknown) => {
    throw err instanceof BodyTooLargeError ? new RegistryError('SIZE_INVALID', 'manifest too large', { limit: MAX_MANIFEST_BYTES }) : err;
  });
}
