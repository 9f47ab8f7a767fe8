import type { Identity } from '../auth/authenticator';
import { type CompiledGlob, compileGlob } from './glob';
import type { ScopeEntry } from './scope';

/** One authorization rule: who (all given conditions must hold), which repositories, which actions. */
export interface AccessRule {
  /** Glob on the identity name. */
  identity?: string;
  /** A group the identity must belong to. */
  group?: string;
  /** Claims that must match (top-level claim name → glob on its value, or on any element of an array value). */
  claims?: Record<string, string>;
  /** Globs on facade repository names: `*` within one path component, `**` across them; `${identity}` stands for one path component equal to the identity name (glob.ts). */
  repositories: string[];
  /** Actions granted. Only `pull` means anything to a pull-only facade. */
  actions: string[];
}

interface CompiledRule {
  rule: AccessRule;
  identity?: CompiledGlob;
  claims: [string, CompiledGlob][];
  repositories: CompiledGlob[];
}

/**
 * Decides which actions an identity (or an anonymous client) may take on a
 * repository. Deny by default: an action is granted only when a rule grants
 * it; anonymous clients get only what the `anonymous` patterns grant (pull).
 * Every glob is compiled once, here (see glob.ts for the dialect and for how
 * `${identity}` is matched).
 */
export class Authorizer {
  readonly #anonymous: CompiledGlob[];
  readonly #rules: CompiledRule[];

  constructor(rules: AccessRule[], anonymousPull: string[] = []) {
    this.#anonymous = anonymousPull.map(compileGlob);
    this.#rules = rules.map((rule) => ({
      rule,
      identity: rule.identity === undefined ? undefined : compileGlob(rule.identity),
      claims: Object.entries(rule.claims ?? {}).map(([claim, glob]) => [claim, compileGlob(glob)]),
      repositories: rule.repositories.map(compileGlob),
    }));
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
    if (this.#anonymous.some((g) => g.test(repository))) granted.add('pull');
    if (!identity) return granted;
    for (const compiled of this.#rules) {
      if (!matchesWho(compiled, identity)) continue;
      if (compiled.repositories.some((g) => g.test(repository, identity.name))) compiled.rule.actions.forEach((a) => granted.add(a));
    }
    return granted;
  }
}

function matchesWho(compiled: CompiledRule, identity: Identity): boolean {
  if (compiled.identity && !compiled.identity.test(identity.name)) return false;
  if (compiled.rule.group !== undefined && !identity.groups.includes(compiled.rule.group)) return false;
  for (const [claim, glob] of compiled.claims) {
    const value = identity.claims[claim];
    const values = Array.isArray(value) ? value : [value];
    if (!values.some((v) => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') && glob.test(String(v)))) return false;
  }
  return true;
}
