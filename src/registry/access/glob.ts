import { BoundedCache } from '../../lib/bounded-cache';
import { compileGlob as compileDialect, type Glob } from '../../lib/glob';
import { isPathComponent } from '../../lib/image-reference';

/**
 * The facade's globs, for authorization rules and anonymous-pull patterns,
 * in imagegate's one dialect (lib/glob.ts) with `/` separating segments:
 * `*` matches within one path component, `**` one or more components, `?`
 * one character other than `/`; everything else is literal. Compiled once.
 *
 * `${identity}` in a pattern is a placeholder for the caller's identity name,
 * never text spliced into the pattern as glob syntax: the identity is
 * substituted escaped (lib/glob.ts `values`), so it matches only itself, and
 * only when it is a valid repository path component. So an identity can never
 * act as a wildcard (`al*ice`), span components (`alice/x`) or climb (`..`);
 * an identity that is not a valid path component matches no pattern that
 * names it. Each identity's pattern is compiled once and kept (bounded).
 */
export interface CompiledGlob {
  /** True when `text` matches, with `identity` standing for every `${identity}`. */
  test(text: string, identity?: string): boolean;
}

const PLACEHOLDER = '${identity}';
/** Most identities whose patterns one glob keeps compiled. */
const IDENTITIES_KEPT = 1024;

export function compileGlob(glob: string): CompiledGlob {
  if (!glob.includes(PLACEHOLDER)) {
    const compiled = compileDialect(glob);
    return { test: (text) => compiled.test(text) };
  }
  const perIdentity = new BoundedCache<string, Glob>({ max: IDENTITIES_KEPT });
  return {
    test(text, identity) {
      if (identity === undefined || !isPathComponent(identity)) return false;
      let compiled = perIdentity.get(identity);
      if (!compiled) {
        compiled = compileDialect(glob, { values: { identity } });
        perIdentity.set(identity, compiled);
      }
      return compiled.test(text);
    },
  };
}
