import { isIP } from 'node:net';
import { z } from 'zod';
import { Secret } from '../../../log/secret';

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
