import { z } from 'zod';

/** A TCP listen address. `host` is undefined for `:port` (all interfaces). */
export interface ListenAddress {
  host?: string;
  port: number;
}

/** Parses `host:port`, `:port`, `[::1]:port` or a bare port. Returns undefined when it is none of them. */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*))?:?(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[1] ?? (m[2] || undefined);
  return { host, port };
}

/** `host:port` for logs and URLs (IPv6 in brackets). */
export function formatListenAddress(a: ListenAddress): string {
  const host = a.host ?? '';
  return `${host.includes(':') ? `[${host}]` : host}:${a.port}`;
}

const addressSchema = () =>
  z.string().transform((value, ctx) => {
    const a = parseListenAddress(value);
    if (!a) {
      ctx.addIssue({ code: 'custom', message: `not a listen address: "${value}" (use host:port or :port)` });
      return z.NEVER;
    }
    return a;
  });

/** A zod schema for a listen address setting; give the default here (`listenAddress(':8080')`), not with `.default()`. */
export function listenAddress(): ReturnType<typeof addressSchema>;
export function listenAddress(defaultValue: string): z.ZodPrefault<ReturnType<typeof addressSchema>>;
export function listenAddress(defaultValue?: string) {
  return defaultValue === undefined ? addressSchema() : addressSchema().prefault(defaultValue);
}
