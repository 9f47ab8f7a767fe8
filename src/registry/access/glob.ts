/**
 * The facade's glob dialect, for authorization rules and anonymous-pull
 * patterns: `*` matches within one path component, `**` across components,
 * `?` one character other than `/`; everything else is literal. Compiled once
 * into a RegExp.
 *
 * `${identity}` in a pattern is a placeholder for the caller's identity name,
 * never text spliced into the pattern: it compiles to a capture of one whole
 * path component, and a match counts only when that component equals the
 * identity exactly. So an identity can never act as a wildcard (`al*ice`),
 * span components (`alice/x`) or climb (`..`); an identity that is not a
 * valid repository path component matches no pattern that names it.
 */
export interface CompiledGlob {
  /** True when `text` matches, with `identity` standing for every `${identity}`. */
  test(text: string, identity?: string): boolean;
}

const PLACEHOLDER = '${identity}';
/** distribution's path component: what a repository name is made of. */
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

export function compileGlob(glob: string): CompiledGlob {
  const pieces = glob.split(PLACEHOLDER);
  const source = pieces.map(piece).join('([^/]+)');
  const re = new RegExp(`^${source}$`);
  if (pieces.length === 1) return { test: (text) => re.test(text) };
  return {
    test(text, identity) {
      if (identity === undefined || !COMPONENT.test(identity)) return false;
      const m = re.exec(text);
      return !!m && m.slice(1).every((captured) => captured === identity);
    },
  };
}

function piece(text: string): string {
  let re = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '*' && text[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  }
  return re;
}
