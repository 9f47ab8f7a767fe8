import { isIP } from 'node:net';
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

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;
const WILDCARD = /^(0\.0\.0\.0|::|0:0:0:0:0:0:0:0)$/;

/**
 * A listen address for a process on a node's network (a hostNetwork pod):
 * loopback by default, or one specific IP — the node's own, for Prometheus
 * (`$(NODE_IP):9464`, NODE_IP from the pod's `status.hostIP`). Never all
 * interfaces (`:port`, `0.0.0.0`, `::`), which would put the endpoint on every
 * address the node has, public ones included.
 */
export function nodeListenAddress(defaultValue: string) {
  return listenAddress(defaultValue).refine((a: ListenAddress) => a.host !== undefined && (LOOPBACK.test(a.host) || (isIP(a.host) !== 0 && !WILDCARD.test(a.host))), {
    message: "must be a loopback address (127.0.0.1:port or [::1]:port) or the node's own IP, not every interface",
  });
}
