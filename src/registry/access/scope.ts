/**
 * One entry of a token scope: `repository:team/app:pull,push`. The resource
 * name may itself contain `:` (a `host:port` prefix), so type is what precedes
 * the first `:` and actions what follows the last.
 */
export interface ScopeEntry {
  type: string;
  name: string;
  actions: string[];
}

/** Parses space-separated scopes (and repeated parameters); malformed entries are dropped. */
export function parseScopes(values: string[]): ScopeEntry[] {
  const out: ScopeEntry[] = [];
  for (const item of values.flatMap((v) => v.split(' ')).filter(Boolean)) {
    const first = item.indexOf(':');
    const last = item.lastIndexOf(':');
    if (first <= 0 || last === first) continue;
    const type = item.slice(0, first).replace(/\(.*\)$/, '');
    const name = item.slice(first + 1, last);
    const actions = [...new Set(item.slice(last + 1).split(',').filter(Boolean))];
    if (name && actions.length > 0) out.push({ type, name, actions });
  }
  return out;
}

/** `repository:name:a,b` */
export function formatScope(entry: ScopeEntry): string {
  return `${entry.type}:${entry.name}:${entry.actions.join(',')}`;
}

/** True when `granted` allows `action` on the repository `name`. */
export function allows(granted: ScopeEntry[], name: string, action: string): boolean {
  return granted.some((g) => g.type === 'repository' && g.name === name && (g.actions.includes(action) || g.actions.includes('*')));
}
