import { resolve } from 'node:path';
import type { Registry } from 'prom-client';
import type { Logger } from '../../log/logger';
import type { RegistryConfig } from '../config';
import type { Upstream } from '../upstream/upstream';
import { BlobCache } from './blob-cache';
import { BlobStore } from './blob-store';
import { CacheMetrics } from './metrics';
import { StaleManifests } from './stale-manifests';

/** The pull-through caches of one facade process, applied to each upstream. */
export interface Caches {
  /** Wraps an upstream (already behind its manifest cache) in the configured caches; the identity when none is on. */
  decorate(upstream: Upstream): Upstream;
  close(): Promise<void>;
}

/**
 * Builds the caches `registry.cache` turns on: the disk blob store
 * (`cache.blobs`, opened and indexed now) shared by every upstream, and
 * stale tag manifests (`cache.tags.maxStale` > 0). Metrics go to `registry`.
 */
export async function createCaches(config: RegistryConfig['cache'], deps: { baseDir: string; logger: Logger; registry: Registry }): Promise<Caches> {
  let store: BlobStore | undefined;
  const metrics = new CacheMetrics(deps.registry, () => ({ bytes: store?.index.bytes ?? 0, entries: store?.index.size ?? 0 }));
  if (config.blobs) store = await BlobStore.open({ dir: resolve(deps.baseDir, config.blobs.dir), maxBytes: config.blobs.maxBytes, metrics, logger: deps.logger });
  const { maxStale, maxEntries } = config.tags;
  return {
    decorate(upstream) {
      const stale = maxStale > 0 ? new StaleManifests(upstream, { maxStaleMs: maxStale, maxEntries, metrics }) : upstream;
      return store ? new BlobCache(stale, store, metrics) : stale;
    },
    close: async () => store?.close(),
  };
}
