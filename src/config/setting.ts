import type { z } from 'zod';
import { ConfigError } from './errors';

/**
 * Validates one setting's value with its zod schema; the first problem
 * becomes a ConfigError naming its full path, e.g. `auth.chain[1].ldap.url`
 * or `credentials.rules[0].with.roleArn`. Unknown keys (strict schemas) are
 * `unknown setting`. The one place a sub-section's zod issues become the
 * one-line, exit-code-2 error the CLI prints.
 */
export function parseSetting<S extends z.ZodType>(schema: S, value: unknown, path: string): z.output<S> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  throw configErrorFromIssue(path, result.error.issues[0]);
}

/** One zod issue as a ConfigError under `base`. */
export function configErrorFromIssue(base: string, issue: z.core.$ZodIssue): ConfigError {
  const keys = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
  const message = issue.code === 'unrecognized_keys' ? 'unknown setting' : issue.message;
  return new ConfigError(joinPath(base, keys), message);
}

/** `auth.chain[1].ldap` + [`groups`, 0] → `auth.chain[1].ldap.groups[0]`. */
export function joinPath(base: string, keys: readonly PropertyKey[]): string {
  return keys.reduce<string>((path, key) => (typeof key === 'number' ? `${path}[${key}]` : `${path}.${String(key)}`), base);
}
