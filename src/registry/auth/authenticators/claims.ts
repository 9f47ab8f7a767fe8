import { z } from 'zod';

/**
 * A claim path: keys separated by `.`, a key with dots or slashes in brackets.
 * `sub`, `realm_access.roles`, `[https://sts.amazonaws.com/].aws_account`.
 */
export function parseClaimPath(text: string): string[] | undefined {
  const keys: string[] = [];
  let rest = text;
  while (rest.length > 0) {
    const m = /^\[([^\]]+)\]|^([^.[\]]+)/.exec(rest);
    if (!m) return undefined;
    keys.push(m[1] ?? m[2]);
    rest = rest.slice(m[0].length);
    if (rest.startsWith('.') && rest.length > 1) rest = rest.slice(1);
    else if (rest.length > 0 && !rest.startsWith('[')) return undefined;
  }
  return keys.length > 0 ? keys : undefined;
}

/** The value at a claim path, or undefined. */
export function claimAt(claims: Record<string, unknown>, path: readonly string[]): unknown {
  let value: unknown = claims;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

const claimPath = z.string().transform((text, ctx) => {
  const path = parseClaimPath(text);
  if (!path) {
    ctx.addIssue({ code: 'custom', message: `not a claim path: "${text}" (e.g. sub, groups, [https://sts.amazonaws.com/].aws_account)` });
    return z.NEVER;
  }
  return path;
});

/**
 * How verified claims become an identity. `name`: one path or several tried in
 * order (default `sub`). `groups`: paths whose string or string-list values
 * are merged (default `groups`). `attributes`: extra top-level claims for
 * authorization rules, e.g. `account: "[https://sts.amazonaws.com/].aws_account"`.
 */
export const claimMappingSchema = (defaults: { name: string[]; groups: string[]; attributes?: Record<string, string> }) =>
  z
    .strictObject({
      name: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
      groups: z.array(z.string()).optional(),
      attributes: z.record(z.string(), z.string()).optional(),
    })
    .prefault({})
    .transform((m, ctx) => {
      const parse = (text: string, path: PropertyKey[]) => {
        const r = claimPath.safeParse(text);
        if (!r.success) ctx.addIssue({ code: 'custom', message: r.error.issues[0].message, path });
        return r.success ? r.data : [];
      };
      const names = m.name === undefined ? defaults.name : typeof m.name === 'string' ? [m.name] : m.name;
      return {
        name: names.map((n, i) => parse(n, typeof m.name === 'object' ? ['name', i] : ['name'])),
        groups: (m.groups ?? defaults.groups).map((g, i) => parse(g, ['groups', i])),
        attributes: Object.entries(m.attributes ?? defaults.attributes ?? {}).map(([k, v]) => [k, parse(v, ['attributes', k])] as const),
      };
    });

export type ClaimMapping = z.output<ReturnType<typeof claimMappingSchema>>;

/** Name, groups and claims from verified claims; undefined when no name path yields a non-empty string. */
export function identityFrom(claims: Record<string, unknown>, mapping: ClaimMapping) {
  const name = mapping.name.map((p) => claimAt(claims, p)).find((v): v is string => typeof v === 'string' && v !== '');
  if (name === undefined) return undefined;
  const groups = new Set<string>();
  for (const path of mapping.groups) {
    const value = claimAt(claims, path);
    for (const g of Array.isArray(value) ? value : [value]) if (typeof g === 'string' && g !== '') groups.add(g);
  }
  const extra = Object.fromEntries(mapping.attributes.map(([k, p]) => [k, claimAt(claims, p)]).filter(([, v]) => v !== undefined));
  return { name, groups: [...groups], claims: { ...claims, ...extra } };
}
