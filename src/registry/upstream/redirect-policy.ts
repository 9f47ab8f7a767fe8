import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { RegistryError } from '../errors';
import { isForbiddenAddress } from './address-policy';
import type { Agents } from './http-client';

/** The error code a refused destination fails its connection with (see `guardedLookup`). */
export const FORBIDDEN_DESTINATION = 'EIMAGEGATE_FORBIDDEN_DESTINATION';

export interface RedirectPolicyOptions {
  upstream: string;
  /** The upstream's own URL: redirects to its origin are always followed (with its credentials). */
  origin: URL;
  /** `redirectHosts`: `host`, `host:port` or `*.domain`. Empty: any host on public addresses. */
  allowedHosts: string[];
  /** The upstream's pool, for its own origin and for listed hosts. */
  agents: Agents;
  /** Extra TLS trust for listed hosts and the guarded pool. */
  ca?: string;
}

/** Where one redirect hop may go, and through which pool. */
export type RedirectTarget = { kind: 'origin' } | { kind: 'listed'; agents: Agents } | { kind: 'public'; agents: Agents };

/**
 * Decides where a followed redirect may go. The upstream's own origin: always.
 * A host on `redirectHosts`: yes, wherever it resolves (the operator listed it).
 * With a list, nothing else. Without one, any other host whose every address is
 * public: an IP literal is judged before connecting, a name when it is
 * resolved, at connect time, inside the connection pool (a custom `lookup`), so
 * a name that resolves to a public address for a check and a private one for
 * the connection (DNS rebinding) is still refused. HTTPS never redirects to
 * plain HTTP, and nothing but http(s) is followed. A refusal is UNAVAILABLE,
 * saying the destination is not allowed, never where it was.
 */
export class RedirectPolicy {
  readonly #guarded: Agents;

  constructor(private readonly options: RedirectPolicyOptions) {
    const lookup = guardedLookup;
    this.#guarded = {
      http: new http.Agent({ keepAlive: true, maxSockets: 64, scheduling: 'lifo', lookup }),
      https: new https.Agent({ keepAlive: true, maxSockets: 64, scheduling: 'lifo', lookup, ca: options.ca }),
    };
  }

  /** Where `next` (reached from `from`) may be fetched, or throws UNAVAILABLE. */
  target(next: URL, from: URL): RedirectTarget {
    if (next.protocol !== 'https:' && next.protocol !== 'http:') throw this.refused();
    if (from.protocol === 'https:' && next.protocol === 'http:') throw this.refused();
    if (next.protocol === this.options.origin.protocol && next.host === this.options.origin.host) return { kind: 'origin' };
    if (this.options.allowedHosts.some((pattern) => hostMatches(pattern, next))) return { kind: 'listed', agents: this.options.agents };
    if (this.options.allowedHosts.length > 0) throw this.refused();
    const literal = next.hostname.replace(/^\[|\]$/g, '');
    if (isIP(literal) && isForbiddenAddress(literal)) throw this.refused();
    return { kind: 'public', agents: this.#guarded };
  }

  /** The error for a destination the policy refuses. */
  refused(): RegistryError {
    return new RegistryError('UNAVAILABLE', `upstream ${this.options.upstream} redirected to a destination that is not allowed`, { upstream: this.options.upstream });
  }

  close(): void {
    this.#guarded.http.destroy();
    this.#guarded.https.destroy();
  }
}

/** `host` matches exactly (any port), `host:port` matches that port, `*.domain` any name under domain (any port). */
function hostMatches(pattern: string, url: URL): boolean {
  const p = pattern.toLowerCase();
  if (p.startsWith('*.')) return url.hostname.endsWith(p.slice(1)) && url.hostname.length > p.length - 1;
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return p === url.hostname || p === `${url.hostname}:${port}`;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** dns.lookup that fails with FORBIDDEN_DESTINATION when any address of the name is forbidden. */
function guardedLookup(hostname: string, options: object, callback: LookupCallback): void {
  const all = (options as { all?: boolean }).all === true;
  dnsLookup(hostname, { ...(options as object), all: true } as LookupAllOptions, (err, addresses) => {
    if (err) return callback(err, all ? [] : '');
    if (addresses.length === 0 || addresses.some((a) => isForbiddenAddress(a.address))) {
      const refused: NodeJS.ErrnoException = new Error('destination not allowed');
      refused.code = FORBIDDEN_DESTINATION;
      return callback(refused, all ? [] : '');
    }
    if (all) callback(null, addresses);
    else callback(null, addresses[0].address, addresses[0].family);
  });
}
