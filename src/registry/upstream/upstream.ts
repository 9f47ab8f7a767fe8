import type { Readable } from 'node:stream';

/** What the facade asks an upstream for. `repository` is already the upstream's own name. */
export type UpstreamRequest =
  | { kind: 'manifest'; method: 'GET' | 'HEAD'; repository: string; reference: string; accept: string[] }
  | { kind: 'blob'; method: 'GET' | 'HEAD'; repository: string; digest: string; range?: string }
  | { kind: 'tags'; repository: string; n?: string; last?: string }
  | { kind: 'referrers'; repository: string; digest: string; artifactType?: string };

/**
 * The upstream's answer. `status` is 200, 206, 3xx (a blob redirect passed
 * through: `location` is set and absolute), or 304. Headers are lower-case and
 * only the ones worth relaying. `body` is a stream the caller must consume or
 * destroy; it is absent for HEAD.
 */
export interface UpstreamResponse {
  status: number;
  headers: Record<string, string>;
  body?: Readable;
  location?: string;
  /** The longest pause in `body` before the upstream counts as stalled (its configured timeout). */
  stallMs?: number;
}

/**
 * One registry the facade reads from. A failure the client should see (an
 * unknown manifest, an upstream that refuses) is a rejected RegistryError; any
 * other rejection is a fault of the facade, answered with a generic 500.
 * Implementations must be safe under concurrency. `close()` releases pooled
 * connections once, at shutdown.
 */
export interface Upstream {
  /** The configured name, for logs and metrics. */
  readonly name: string;
  fetch(request: UpstreamRequest): Promise<UpstreamResponse>;
  close(): Promise<void>;
}
