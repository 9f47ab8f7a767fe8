import { RegistryError } from '../errors';
import type { Upstream } from './upstream';

/** One upstream and the part of the facade's namespace it serves. */
export interface Route {
  /** Facade path prefix, e.g. `hub` or `team-a`; empty serves every name not claimed by a longer prefix. */
  prefix: string;
  /** Prepended to the rest of the name upstream, e.g. `library`. */
  repositoryPrefix?: string;
  upstream: Upstream;
}

/** Where a facade repository name lives upstream. */
export interface Resolved {
  upstream: Upstream;
  /** The name as the upstream knows it. */
  repository: string;
}

/**
 * Maps facade repository names onto the configured upstreams by the longest
 * matching path prefix (whole components only). A name no upstream claims is
 * NAME_UNKNOWN: the facade only ever contacts configured hosts.
 */
export class UpstreamRouter {
  readonly #routes: Route[];

  constructor(routes: Route[]) {
    this.#routes = [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
  }

  resolve(name: string): Resolved {
    for (const route of this.#routes) {
      const rest = strip(name, route.prefix);
      if (rest === undefined) continue;
      const repository = route.repositoryPrefix ? `${route.repositoryPrefix}/${rest}` : rest;
      return { upstream: route.upstream, repository };
    }
    throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name });
  }

  get upstreams(): Upstream[] {
    return [...new Set(this.#routes.map((r) => r.upstream))];
  }

  async close(): Promise<void> {
    await Promise.all(this.upstreams.map((u) => u.close()));
  }
}

/** The name without `prefix/`, or undefined when the prefix does not own it. */
function strip(name: string, prefix: string): string | undefined {
  if (prefix === '') return name;
  if (name.startsWith(prefix + '/') && name.length > prefix.length + 1) return name.slice(prefix.length + 1);
  return undefined;
}
