import picomatch from 'picomatch';

/** How one use of the dialect reads its text. */
export interface GlobOptions {
  /**
   * What splits the text into segments: `path` (`/`, for repository names,
   * and for registry hosts, which then are one segment) or `host` (`.` and
   * `:`, so that a segment is one DNS label or the port). Default `path`.
   */
  segments?: 'path' | 'host';
  /** Match letters whatever their case. Default false. */
  ignoreCase?: boolean;
}

/** A compiled glob. */
export interface Glob {
  readonly pattern: string;
  test(text: string): boolean;
}

const PICOMATCH = { dot: true, nobrace: true, nobracket: true, noextglob: true, nonegate: true, strictSlashes: true } as const;

/**
 * imagegate's one glob dialect (picomatch, with its extras turned off),
 * used by credential rules, facade authorization and the outbound allowlist:
 *
 * - `*` matches within one segment, `?` one character of a segment;
 * - `**` as a whole segment matches one or more whole segments
 *   (`team/**` → `team/a`, `team/a/b`; `**.example.com` → `a.example.com`,
 *   `a.b.example.com`, not `example.com`); elsewhere it is `*`;
 * - every other character is literal (`[`, `{`, `(`, `!`, `|`, `+`, `.`…).
 *
 * Compile each pattern once (at start-up, per rule) and call `test` per request.
 */
export function compileGlob(pattern: string, options: GlobOptions = {}): Glob {
  const host = options.segments === 'host';
  const source = host ? pattern.replace(/[.:]/g, '/') : pattern;
  const re = picomatch.makeRe(translate(source), { ...PICOMATCH, nocase: options.ignoreCase === true });
  return {
    pattern,
    test: host ? (text) => !text.includes('/') && re.test(text.replace(/[.:]/g, '/')) : (text) => re.test(text),
  };
}

/** True when the pattern holds a wildcard (`*` or `?`). */
export function hasWildcard(pattern: string): boolean {
  return /[*?]/.test(pattern);
}

/** Picomatch source for our dialect: literals escaped; a leading or inner `**` segment made one-or-more. */
function translate(pattern: string): string {
  const parts = pattern.split('/');
  return parts
    .map((part, i) => {
      if (part === '**') return i < parts.length - 1 ? '*/**' : '**';
      return part.replace(/[^*?A-Za-z0-9_-]/g, '\\$&');
    })
    .join('/');
}
