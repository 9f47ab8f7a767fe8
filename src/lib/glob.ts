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
  /**
   * Values for `${name}` placeholders in the pattern, each matched literally
   * (escaped: a value can never act as a wildcard). A placeholder without a
   * value is literal text.
   */
  values?: Record<string, string>;
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
 * - every other character is literal (`[`, `{`, `(`, `!`, `|`, `+`, `.`, `\\`…);
 * - `${name}` is replaced by `values[name]`, escaped (see GlobOptions).
 *
 * Compile each pattern once (at start-up, per rule) and call `test` per request.
 */
export function compileGlob(pattern: string, options: GlobOptions = {}): Glob {
  const host = options.segments === 'host';
  const toSegments = (text: string) => (host ? text.replace(/[.:]/g, '/') : text);
  const values = Object.fromEntries(Object.entries(options.values ?? {}).map(([k, v]) => [k, toSegments(v)]));
  const re = picomatch.makeRe(translate(toSegments(pattern), values), { ...PICOMATCH, nocase: options.ignoreCase === true });
  return {
    pattern,
    test: host ? (text) => !text.includes('/') && re.test(toSegments(text)) : (text) => re.test(text),
  };
}

/** True when the pattern holds a wildcard (`*` or `?`). */
export function hasWildcard(pattern: string): boolean {
  return /[*?]/.test(pattern);
}

/** Picomatch source for our dialect: literals escaped, values substituted escaped, a leading or inner `**` segment made one-or-more. */
function translate(pattern: string, values: Record<string, string>): string {
  const parts = pattern.split('/');
  return parts
    .map((part, i) => {
      if (part === '**') return i < parts.length - 1 ? '*/**' : '**';
      return part
        .split(/(\$\{\w+\})/)
        .map((piece) => {
          const name = /^\$\{(\w+)\}$/.exec(piece)?.[1];
          if (name !== undefined && Object.hasOwn(values, name)) return escapeAll(values[name]);
          return piece.replace(/[^*?A-Za-z0-9_-]/g, '\\$&');
        })
        .join('');
    })
    .join('/');
}

/** Text matched literally: every character that is not a letter, digit, `_` or `-` escaped. */
function escapeAll(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, '\\$&');
}
