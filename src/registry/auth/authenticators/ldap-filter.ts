/**
 * Escapes a value for an LDAP search filter (RFC 4515 §3): `\`, `*`, `(`,
 * `)` and NUL become `\5c`, `\2a`, `\28`, `\29`, `\00`, so that user input
 * can only ever be a literal value, never filter syntax.
 */
export function escapeFilterValue(value: string): string {
  return value.replace(/[\\*()\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Fills `{name}` placeholders of a filter template with escaped values. */
export function fillFilter(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in values ? escapeFilterValue(values[key]) : whole));
}

/**
 * True for a user name that can be a directory account name: no filter
 * metacharacters, no control characters, at most 256 characters. Anything
 * else is refused before the directory is asked.
 */
export function plausibleUsername(username: string): boolean {
  return username.length <= 256 && !/[\\*()\0-\x1f\x7f]/.test(username);
}
