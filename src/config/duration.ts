import { z } from 'zod';

export { formatDuration, parseDuration } from './duration-text';
import { parseDuration } from './duration-text';

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
