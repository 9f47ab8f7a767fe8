import type { z } from 'zod';

/** An unknown key found in configuration: where it is, and the known key it most likely meant. */
export interface UnknownKey {
  path: string[];
  suggestion?: string;
}

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  element?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
}

const def = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/**
 * The first key of `value` that `schema` does not declare, wherever the schema
 * is a mapping with fixed keys (zod would otherwise drop it without a word,
 * so `bakend: cri` silently meant the default backend). Walks mappings, lists,
 * and optional, nullable, default and piped schemas; records, unions and
 * mappings that accept extra keys are left to the schema itself.
 */
export function findUnknownKey(schema: z.ZodType, value: unknown, path: string[] = []): UnknownKey | undefined {
  const d = def(schema);
  switch (d.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
      return d.innerType && findUnknownKey(d.innerType, value, path);
    case 'pipe':
      return d.in && findUnknownKey(d.in, value, path);
    case 'array':
      if (!Array.isArray(value) || !d.element) return undefined;
      for (const [i, item] of value.entries()) {
        const found = findUnknownKey(d.element, item, [...path, String(i)]);
        if (found) return found;
      }
      return undefined;
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value) || !d.shape) return undefined;
      const closed = d.catchall === undefined || def(d.catchall).type === 'never';
      const known = Object.keys(d.shape);
      for (const [key, child] of Object.entries(value)) {
        if (!(key in d.shape)) {
          if (closed) return { path: [...path, key], suggestion: closest(key, known) };
          continue;
        }
        const found = findUnknownKey(d.shape[key], child, [...path, key]);
        if (found) return found;
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

/** The known key nearest to `key` (case-insensitive edit distance at most a third of its length, and at least 2), if any. */
export function closest(key: string, known: string[]): string | undefined {
  const limit = Math.max(2, Math.floor(key.length / 3));
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance <= limit && (!best || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

/** Levenshtein distance, with a transposition counted as one edit. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      rows[i][j] = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) rows[i][j] = Math.min(rows[i][j], rows[i - 2][j - 2] + 1);
    }
  }
  return rows[a.length][b.length];
}
