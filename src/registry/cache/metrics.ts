import { Counter, Gauge, type Registry } from 'prom-client';

/** The pull-through cache's Prometheus metrics (blob store and stale tag manifests), registered once. */
export class CacheMetrics {
  /** Blob requests by what the cache did: `hit` (from disk), `shared` (joined a fill), `miss` (started a fill), `bypass` (streamed from the upstream). */
  readonly requests: Counter<'result'>;
  /** Finished fills by result: `ok` (verified, kept), `mismatch` (digest verification failed), `error` (upstream or disk failure). */
  readonly fills: Counter<'result'>;
  /** Blob body bytes by source: `cache` (read from disk to clients) or `upstream` (fetched by fills and bypasses). */
  readonly bytes: Counter<'source'>;
  /** Entries evicted to stay under maxBytes. */
  readonly evictions: Counter<string>;
  /** Tag manifests answered from the last known copy while the upstream failed. */
  readonly staleServes: Counter<'reason'>;
  /** Bytes and entries on disk, read at scrape time. */
  readonly size: Gauge<string>;
  readonly entries: Gauge<string>;

  constructor(registry: Registry, sizeOf: () => { bytes: number; entries: number } = () => ({ bytes: 0, entries: 0 })) {
    const registers = [registry];
    this.requests = new Counter({ name: 'imagegate_registry_blob_cache_requests_total', help: 'Blob requests by cache result', labelNames: ['result'], registers });
    this.fills = new Counter({ name: 'imagegate_registry_blob_cache_fills_total', help: 'Blob cache fills by result', labelNames: ['result'], registers });
    this.bytes = new Counter({ name: 'imagegate_registry_blob_cache_bytes_total', help: 'Blob bytes by source', labelNames: ['source'], registers });
    this.evictions = new Counter({ name: 'imagegate_registry_blob_cache_evictions_total', help: 'Blob cache entries evicted', registers });
    this.staleServes = new Counter({ name: 'imagegate_registry_manifest_stale_serves_total', help: 'Tag manifests served stale during an upstream failure', labelNames: ['reason'], registers });
    this.size = new Gauge({ name: 'imagegate_registry_blob_cache_size_bytes', help: 'Bytes held by the blob cache', registers, collect() { this.set(sizeOf().bytes); } });
    this.entries = new Gauge({ name: 'imagegate_registry_blob_cache_entries', help: 'Blobs held by the blob cache', registers, collect() { this.set(sizeOf().entries); } });
  }
}
