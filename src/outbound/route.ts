import type { IncomingMessage } from 'node:http';
import { OutboundError } from './errors';
import { derivedAudience, HostAllowlist, parseUpstreamHost, type UpstreamHost } from './host';
import type { OutboundSettings } from './settings';

/** Where one request goes and which audiences its token carries. */
export interface Route {
  scheme: 'http' | 'https';
  target: UpstreamHost;
  /** The port to connect to (the scheme's default when the host named none). */
  port: number;
  audiences: string[];
  /** Request header to drop before forwarding (the routing header), if any. */
  strip?: string;
}

/**
 * Decides the upstream and audiences of each request: the pinned host, or the
 * routing header checked against the allowlist. Audiences are, in order, the
 * fixed TOKEN_AUDIENCE list, the host → audience map, or `scheme://host`.
 */
export class Router {
  readonly #s: OutboundSettings;
  readonly #allow: HostAllowlist;
  readonly #defaultPort: number;
  /** The one route of pinned mode, built once: requests share it and must not change it. */
  readonly #pinned?: Route;

  constructor(settings: OutboundSettings) {
    this.#s = settings;
    this.#allow = new HostAllowlist(settings.upstreamAllow);
    this.#defaultPort = settings.upstreamScheme === 'https' ? 443 : 80;
    this.#pinned = settings.upstreamHost ? this.#route(settings.upstreamHost) : undefined;
  }

  /** Throws an OutboundError (400 or 403) when the request names no usable upstream. */
  resolve(req: IncomingMessage): Route {
    if (this.#pinned) return this.#pinned;
    const header = this.#s.hostHeader;
    const raw = req.headers[header];
    const text = Array.isArray(raw) ? raw[0] : raw;
    if (!text) throw new OutboundError('no-route', `request has no ${header} header`);
    const target = parseUpstreamHost(text);
    if (!target) throw new OutboundError('bad-route', `${header} is not host[:port]: ${JSON.stringify(text.slice(0, 100))}`);
    if (!this.#allow.allows(target, this.#defaultPort)) throw new OutboundError('not-allowed', `${target.authority} is not in the allowlist`);
    return { ...this.#route(target), strip: header === 'host' ? undefined : header };
  }

  /** The audiences every request uses when they do not depend on the request; undefined in dynamic mode. */
  fixedAudiences(): string[] | undefined {
    if (this.#s.tokenAudience.length > 0) return this.#s.tokenAudience;
    return this.#s.upstreamHost ? this.#audiences(this.#s.upstreamHost) : undefined;
  }

  #route(target: UpstreamHost): Route {
    return { scheme: this.#s.upstreamScheme, target, port: target.port ?? this.#defaultPort, audiences: this.#audiences(target) };
  }

  #audiences(target: UpstreamHost): string[] {
    if (this.#s.tokenAudience.length > 0) return this.#s.tokenAudience;
    return this.#s.audienceMap.get(target.host) ?? [derivedAudience(this.#s.upstreamScheme, target)];
  }
}
