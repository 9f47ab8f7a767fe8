import { RegistryError } from '../errors';

/** A byte range `[start, end]` (inclusive) of a body of known size. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parses a `Range` header against a body of `size` bytes (RFC 9110 §14.1.2):
 * undefined when absent or not a single `bytes=` range (the whole body is then
 * sent, as the RFC allows); RANGE_INVALID when it cannot be satisfied.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw unsatisfiable(size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return undefined;
  }
  if (start >= size) throw unsatisfiable(size);
  return { start, end };
}

function unsatisfiable(size: number): RegistryError {
  return new RegistryError('RANGE_INVALID', 'requested range not satisfiable', undefined, { 'content-range': `bytes */${size}` });
}
