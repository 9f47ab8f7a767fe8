import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/log/logger';
import { Secret } from '../../src/log/secret';
import { createCaches } from '../../src/registry/cache';
import { buildRouter } from '../../src/registry/upstream/build';
import { fromPassword } from '../../src/registry/upstream/credentials';
import { createAgents } from '../../src/registry/upstream/http-client';
import { HttpUpstream } from '../../src/registry/upstream/http-upstream';
import { RedirectPolicy } from '../../src/registry/upstream/redirect-policy';
import { UpstreamAuth } from '../../src/registry/upstream/upstream-auth';
import type { Upstream } from '../../src/registry/upstream/upstream';
import { requireTcp } from '../../testing/services';
import { testConfig } from './support/facade';
import { upstreams } from '../../testing/registry/upstreams';
import { describeUpstreamConformance } from './upstream-conformance';

/** One configured upstream built the way the facade builds it (manifest cache in front), optionally behind the configured caches. */
async function fromConfig(name: string, cache: Record<string, unknown> = {}): Promise<Upstream> {
  const config = testConfig({ cache });
  const caches = await createCaches(config.cache, { baseDir: process.cwd(), logger: silentLogger, registry: new Registry() });
  const router = buildRouter(config.upstreams.filter((u) => u.name === name), { baseDir: process.cwd(), cache: config.cache, decorate: caches.decorate });
  const upstream = router.upstreams[0];
  return { name: upstream.name, fetch: (r) => upstream.fetch(r), close: async () => { await upstream.close(); await caches.close(); } };
}

/** Every Upstream implementation (HTTP, and each decorator in front of it), against the CI upstreams (.ci/services/60-registry-upstreams.sh). */
describe('upstreams: every implementation passes the shared suite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-upstream-conformance-'));
  before(async () => {
    for (const [what, addr] of [['basic upstream', upstreams.basic], ['token upstream', upstreams.token], ['redirecting upstream', upstreams.redirecting]]) {
      await requireTcp(what, addr);
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const common = { repository: 'test/busybox', tag: '1' };

  describeUpstreamConformance({
    ...common, title: 'HttpUpstream (Basic)', name: 'basic',
    create: () => {
      const url = new URL(`http://${upstreams.basic}`);
      const agents = createAgents(16);
      const auth = new UpstreamAuth({ upstream: 'basic', registryUrl: url, credentials: fromPassword(upstreams.user, new Secret(upstreams.password)), agents, timeoutMs: 30_000 });
      const redirectPolicy = new RedirectPolicy({ upstream: 'basic', origin: url, allowedHosts: [], agents });
      return new HttpUpstream({ name: 'basic', url, timeoutMs: 30_000, redirects: 'follow', auth, agents, redirectPolicy });
    },
  });
  describeUpstreamConformance({ ...common, title: 'ManifestCache over HttpUpstream (Bearer token exchange)', name: 'token', create: () => fromConfig('token') });
  describeUpstreamConformance({ ...common, title: 'ManifestCache over HttpUpstream (redirects followed)', name: 'redirect-follow', create: () => fromConfig('redirect-follow') });
  describeUpstreamConformance({ ...common, title: 'ManifestCache over HttpUpstream (redirects passed to the client)', name: 'redirect-pass', create: () => fromConfig('redirect-pass') });
  describeUpstreamConformance({ ...common, title: 'StaleManifests over ManifestCache', name: 'basic', create: () => fromConfig('basic', { tags: { maxStale: '1m' } }) });
  describeUpstreamConformance({
    ...common, title: 'BlobCache over StaleManifests over ManifestCache', name: 'basic',
    create: () => fromConfig('basic', { blobs: { dir: join(dir, 'blobs') }, tags: { maxStale: '1m' } }),
  });

  it('builds each of them from the configuration it names', async () => {
    for (const name of ['basic', 'token', 'redirect-follow', 'redirect-pass']) {
      const upstream = await fromConfig(name);
      assert.equal(upstream.name, name);
      await upstream.close();
    }
  });
});
