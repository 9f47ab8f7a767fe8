import { z } from 'zod';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a Go-style duration (`500ms`, `30s`, `5m`, `1h30m`) or a bare number
 * of seconds into milliseconds. Returns undefined when the text is not one.
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== trimmed) return undefined;
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * UNIT_MS[unit], 0);
}

/** Formats milliseconds the way settings are written (`90s`, `5m`, `1h`). */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

const durationSchema = () =>
  z.union([z.number().nonnegative(), z.string()]).transform((value, ctx) => {
    const ms = typeof value === 'number' ? value * 1000 : parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `not a duration: "${value}" (use e.g. 500ms, 30s, 5m, 1h)` });
      return z.NEVER;
    }
    return ms;
  });

/**
 * A zod schema for a duration setting: accepts `30s`-style text or seconds;
 * yields milliseconds. Give the default here (`duration('30s')`), not with
 * `.default()`: zod 4's `.default()` skips the transform and would yield the text.
 */
export function duration(): ReturnType<typeof durationSchema>;
export function duration(defaultValue: string): z.ZodPrefault<ReturnType<typeof durationSchema>>;
export function duration(defaultValue?: string) {
  return defaultValue === undefined ? durationSchema() : durationSchema().prefault(defaultValue);
}
