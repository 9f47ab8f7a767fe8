import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RegistryConfig, registrySchema } from '../../../src/registry/config';
import { startTestFacade, tokenFor } from '../support/facade';

/** Facade users for the cache tests: alice pulls everything, bob only team-b's repositories. */
export const cacheUsers = {
  alice: { username: 'alice', password: 'alice-pass-123' },
  bob: { username: 'bob', password: 'bob-pass-456' },
} as const;

/** A facade over `upstreams` (name → host:port, each at prefix = name) with `cache` as registry.cache. */
export function cacheConfig(upstreams: Record<string, string>, cache: Record<string, unknown>, listen = '127.0.0.1:0'): RegistryConfig {
  return registrySchema.parse({
    listen,
    metricsListen: '',
    upstreams: Object.entries(upstreams).map(([name, hostPort]) => ({ name, prefix: name, url: `http://${hostPort}`, timeout: '3s' })),
    auth: {
      chain: [{ static: { users: Object.values(cacheUsers) } }],
      rules: [
        { identity: 'alice', repositories: ['**'] },
        { identity: 'bob', repositories: ['*/team-b/**'] },
      ],
    },
    cache,
  });
}

export function cacheDir(): string {
  return mkdtempSync(join(tmpdir(), 'imagegate-blob-cache-'));
}

export type Facade = Awaited<ReturnType<typeof startTestFacade>>;

/** The value of one metric series (0 when absent), e.g. `imagegate_registry_blob_cache_requests_total{result="hit"}`. */
export async function metric(facade: Facade, series: string): Promise<number> {
  const text = await facade.metrics.metrics();
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

export const hits = (f: Facade) => metric(f, 'imagegate_registry_blob_cache_requests_total{result="hit"}');

/** `authorization` header with a facade token for pulling `repository`. */
export async function pullAuth(facade: Facade, repository: string, user: { username: string; password: string } = cacheUsers.alice): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await tokenFor(facade.url, user, `repository:${repository}:pull`)}` };
}
