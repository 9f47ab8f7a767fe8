import { compileGlob as compileDialect, type Glob } from '../lib/glob';

/** An upstream host as a client or the settings named it. */
export interface UpstreamHost {
  /** Lower-case host name or IP address; IPv6 without brackets. */
  host: string;
  port?: number;
  /** `host[:port]` as sent in the Host header (IPv6 in brackets). */
  authority: string;
}

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;
const IPV6 = /^[0-9a-f:.]+(%[a-z0-9_.-]+)?$/;

/**
 * Parses `host`, `host:port`, `[v6]` or `[v6]:port`. Returns undefined for
 * anything else (a scheme, a path, user info, an empty or bad label), so that
 * a routing header can never smuggle more than a host.
 */
export function parseUpstreamHost(text: string): UpstreamHost | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]/@?#\s]+))(?::(\d{1,5}))?$/.exec(text.trim());
  if (!m) return undefined;
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  const v6 = m[1]?.toLowerCase();
  const name = m[2]?.toLowerCase().replace(/\.$/, '');
  if (v6 !== undefined) {
    if (!IPV6.test(v6) || !v6.includes(':')) return undefined;
  } else if (!name || !name.split('.').every((label) => LABEL.test(label))) {
    return undefined;
  }
  const host = (v6 ?? name) as string;
  const bracketed = v6 !== undefined ? `[${v6}]` : host;
  return { host, port, authority: port === undefined ? bracketed : `${bracketed}:${port}` };
}

/**
 * The audience aws-outbound-jwt-proxy derives for a request: lower-case
 * `scheme://host`, port stripped, IPv6 in brackets.
 */
export function derivedAudience(scheme: string, target: UpstreamHost): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `${scheme.toLowerCase()}://${host}`;
}

/**
 * An allowlist of host globs, in imagegate's one dialect (lib/glob.ts) with
 * DNS labels and the port as segments. A pattern without a port matches the
 * host name whatever the port; with a port (`host:8443`, `host:*`) it matches
 * `host:port`. `*` stands for one DNS label (or a port); `**` for one or more
 * labels. Matching is case-insensitive. An empty list allows nothing.
 */
export class HostAllowlist {
  readonly #rules: { withPort: boolean; glob: Glob }[];

  constructor(readonly patterns: string[]) {
    this.#rules = patterns.map((p) => compileGlob(p));
  }

  /** True when some pattern matches; a target without a port is on `defaultPort`. */
  allows(target: UpstreamHost, defaultPort: number): boolean {
    const bare = target.host.includes(':') ? `[${target.host}]` : target.host;
    const withPort = `${bare}:${target.port ?? defaultPort}`;
    return this.#rules.some((r) => r.glob.test(r.withPort ? withPort : bare));
  }
}

/** Returns a problem with the pattern, or undefined when it is usable. */
export function globProblem(pattern: string): string | undefined {
  if (!/^(\[[0-9a-fA-F:.*]+\]|[A-Za-z0-9_*.-]+)(:(\d{1,5}|\*))?$/.test(pattern)) {
    return `not a host glob: "${pattern}" (use e.g. api.example.com, *.example.com, **.example.com, 10.0.0.1:8443)`;
  }
  if (/^\*{1,2}(:|$)/.test(pattern)) return `"${pattern}" would allow every host`;
  return undefined;
}

function compileGlob(pattern: string): { withPort: boolean; glob: Glob } {
  const withPort = /:(\d+|\*)$/.test(pattern) && !pattern.endsWith(']');
  return { withPort, glob: compileDialect(pattern, { segments: 'host', ignoreCase: true }) };
}
