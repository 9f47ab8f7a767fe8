import { isIP } from 'node:net';
import { z } from 'zod';
import { ConfigError } from '../../../config/errors';
import { Secret } from '../../../log/secret';

/**
 * Validates an authenticator's options with a zod schema. The first problem
 * becomes a ConfigError naming its full path, e.g. `auth.chain[1].ldap.url`.
 * Unknown keys are errors too (schemas are strict), so a typo stops start-up.
 */
export function parseOptions<S extends z.ZodType>(schema: S, options: unknown, configPath: string): z.output<S> {
  const result = schema.safeParse(options ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const keys = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
  const message = issue.code === 'unrecognized_keys' ? 'unknown setting' : issue.message;
  throw new ConfigError(joinPath(configPath, keys), message);
}

/** `auth.chain[1].ldap` + [`groups`, 0] → `auth.chain[1].ldap.groups[0]`. */
export function joinPath(base: string, keys: readonly PropertyKey[]): string {
  return keys.reduce<string>((path, key) => (typeof key === 'number' ? `${path}[${key}]` : `${path}.${String(key)}`), base);
}

/** A secret setting: a non-empty string, held as a Secret from the moment it is read. */
export const secretString = () => z.string().min(1, 'must not be empty').transform((value) => new Secret(value));

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * A URL setting for a server that decides who gets in: `https`, or plain
 * `http` only on loopback (a sidecar, a test). Yields the URL as text.
 */
export const trustedUrl = (schemes: readonly string[] = ['https:', 'http:']) =>
  z.string().superRefine((text, ctx) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: `not a URL: "${text}"` });
      return;
    }
    const secure = schemes.filter((s) => s !== 'http:' && s !== 'ldap:');
    if (!schemes.includes(url.protocol)) {
      ctx.addIssue({ code: 'custom', message: `must use ${schemes.map((s) => s.replace(':', '')).join(' or ')}` });
    } else if (!secure.includes(url.protocol) && !isLoopbackHost(url.hostname)) {
      ctx.addIssue({ code: 'custom', message: `must use ${secure.map((s) => s.replace(':', '')).join(' or ')} unless the host is loopback` });
    }
  });
