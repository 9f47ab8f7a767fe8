import { Counter, Gauge, type Registry } from 'prom-client';
import { awsErrorCode } from './errors';
import type { CacheObserver, TokenCache } from './token-cache';

/** Provider part of a cache key (`ecr:host|role` → `ecr`). */
function providerOf(key: string): string {
  return key.slice(0, key.indexOf(':'));
}

function metric<M>(registry: Registry, name: string, make: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? make();
}

/**
 * Registers the credential metrics on `registry` and returns the cache
 * observer that feeds them: tokens minted, cache hits and misses, AWS errors
 * by code, requests held back by the backoff after a failure (labelled by
 * provider), and seconds until expiry per cache key.
 */
export function credentialMetrics(registry: Registry, cache: () => TokenCache | undefined): CacheObserver {
  const minted = metric(registry, 'imagegate_credentials_tokens_minted_total', () =>
    new Counter({ name: 'imagegate_credentials_tokens_minted_total', help: 'Tokens minted from AWS (or read) by provider', labelNames: ['provider'], registers: [registry] }));
  const hits = metric(registry, 'imagegate_credentials_cache_hits_total', () =>
    new Counter({ name: 'imagegate_credentials_cache_hits_total', help: 'Token cache hits by provider', labelNames: ['provider'], registers: [registry] }));
  const misses = metric(registry, 'imagegate_credentials_cache_misses_total', () =>
    new Counter({ name: 'imagegate_credentials_cache_misses_total', help: 'Token cache misses by provider', labelNames: ['provider'], registers: [registry] }));
  const errors = metric(registry, 'imagegate_credentials_aws_errors_total', () =>
    new Counter({ name: 'imagegate_credentials_aws_errors_total', help: 'Failed mints by provider and AWS error code', labelNames: ['provider', 'code'], registers: [registry] }));
  const held = metric(registry, 'imagegate_credentials_backoff_held_total', () =>
    new Counter({
      name: 'imagegate_credentials_backoff_held_total',
      help: 'Token requests with no valid token answered with the last failure during its backoff period, without an AWS call, by provider',
      labelNames: ['provider'],
      registers: [registry],
    }));
  metric(registry, 'imagegate_credentials_token_expiry_seconds', () =>
    new Gauge({
      name: 'imagegate_credentials_token_expiry_seconds',
      help: 'Seconds until the cached token for each key expires',
      labelNames: ['provider', 'key'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [key, at] of cache()?.expiries() ?? []) this.set({ provider: providerOf(key), key }, Math.round((at - Date.now()) / 1000));
      },
    }));
  return {
    hit: (key) => hits.inc({ provider: providerOf(key) }),
    miss: (key) => misses.inc({ provider: providerOf(key) }),
    minted: (key) => minted.inc({ provider: providerOf(key) }),
    failed: (key, err) => errors.inc({ provider: providerOf(key), code: awsErrorCode(err) }),
    evicted: () => undefined,
    held: (key) => held.inc({ provider: providerOf(key) }),
  };
}
