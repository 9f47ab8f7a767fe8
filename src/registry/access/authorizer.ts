import type { Identity } from '../auth/authenticator';
import type { ScopeEntry } from './scope';

/** One authorization rule: who (all given conditions must hold), which repositories, which actions. */
export interface AccessRule {
  /** Glob on the identity name. */
  identity?: string;
  /** A group the identity must belong to. */
  group?: string;
  /** Claims that must match (top-level claim name → glob on its value, or on any element of an array value). */
  claims?: Record<string, string>;
  /** Globs on facade repository names: `*` within one path component, `**` across them; `${identity}` is the identity name. */
  repositories: string[];
  /** Actions granted. Only `pull` means anything to a pull-only facade. */
  actions: string[];
}

/**
 * Decides which actions an identity (or an anonymous client) may take on a
 * repository. Deny by default: an action is granted only when a rule grants
 * it; anonymous clients get only what the `anonymous` patterns grant (pull).
 */
export class Authorizer {
  readonly #anonymous: RegExp[];

  constructor(
    private readonly rules: AccessRule[],
    anonymousPull: string[] = [],
  ) {
    this.#anonymous = anonymousPull.map((g) => globToRegExp(g));
  }

  /** The requested scope entries cut down to what is granted (the intersection); entries with nothing granted are dropped. */
  grant(identity: Identity | undefined, requested: ScopeEntry[]): ScopeEntry[] {
    const out: ScopeEntry[] = [];
    for (const entry of requested) {
      if (entry.type !== 'repository') continue;
      const allowed = this.actions(identity, entry.name);
      const actions = entry.actions.filter((a) => allowed.has(a) || allowed.has('*'));
      if (actions.length > 0) out.push({ type: entry.type, name: entry.name, actions });
    }
    return out;
  }

  /** Every action granted on one repository. */
  actions(identity: Identity | undefined, repository: string): Set<string> {
    const granted = new Set<string>();
    if (this.#anonymous.some((re) => re.test(repository))) granted.add('pull');
    if (!identity) return granted;
    for (const rule of this.rules) {
      if (!matchesWho(rule, identity)) continue;
      if (rule.repositories.some((g) => globToRegExp(g, identity.name).test(repository))) rule.actions.forEach((a) => granted.add(a));
    }
    return granted;
  }
}

function matchesWho(rule: AccessRule, identity: Identity): boolean {
  if (rule.identity !== undefined && !globToRegExp(rule.identity).test(identity.name)) return false;
  if (rule.group !== undefined && !identity.groups.includes(rule.group)) return false;
  for (const [claim, glob] of Object.entries(rule.claims ?? {})) {
    const value = identity.claims[claim];
    const values = Array.isArray(value) ? value : [value];
    const re = globToRegExp(glob);
    if (!values.some((v) => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') && re.test(String(v)))) return false;
  }
  return true;
}

/** `*` matches within one path component, `**` matches across components, `?` one character. */
export function globToRegExp(glob: string, identity?: string): RegExp {
  const text = identity !== undefined ? glob.split('${identity}').join(identity.replace(/[*?]/g, '')) : glob;
  let re = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '*' && text[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
