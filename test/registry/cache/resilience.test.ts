import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startTestFacade } from '../support/facade';
import { download } from '../support/download';
import { FaultyRelay, OCI_MANIFEST, PrivateUpstream, freePort } from '../support/private-upstream';
import { raw } from '../support/raw';
import { type Facade, cacheConfig, cacheDir, cacheUsers, hits, metric, pullAuth } from './support';

const MiB = 1024 * 1024;
const ROOT = resolve(__dirname, '../../..');
const waitFor = async (check: () => boolean, ms: number, what: string) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('registry blob cache: restarts, eviction, unwritable disks and upstream outages', function () {
  this.timeout(120_000);
  let upstream: PrivateUpstream;
  let relay: FaultyRelay;
  const dirs: string[] = [];
  const facades: Facade[] = [];
  const mounts: string[] = [];
  const newDir = () => {
    const d = cacheDir();
    dirs.push(d);
    return d;
  };
  const start = async (dir: string, extra: Record<string, unknown> = {}, maxBytes = 512 * MiB) => {
    const f = await startTestFacade(cacheConfig({ priv: upstream.hostPort, relay: relay.hostPort }, { blobs: { dir, maxBytes }, ...extra }));
    facades.push(f);
    return f;
  };

  before(async () => {
    upstream = await PrivateUpstream.start();
    relay = await FaultyRelay.start(upstream.hostPort);
  });
  after(async () => {
    for (const f of facades) await f.close(1000);
    for (const m of mounts) execFileSync('umount', ['-l', m]);
    await relay?.close();
    await upstream?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('after a restart over a warm cache, blobs are still served from disk (index rebuilt, links kept)', async () => {
    const dir = newDir();
    const digest = await upstream.pushBlob('warm/app', randomBytes(4 * MiB));
    const first = await start(dir);
    await download(first.url, `/v2/priv/warm/app/blobs/${digest}`, await pullAuth(first, 'priv/warm/app'));
    await first.close(1000);
    const before = upstream.blobGets('warm/app');
    const second = await start(dir);
    const again = await download(second.url, `/v2/priv/warm/app/blobs/${digest}`, await pullAuth(second, 'priv/warm/app'));
    assert.equal(again.digest, digest);
    assert.equal(upstream.blobGets('warm/app'), before);
    assert.equal(await hits(second), 1);
  });

  it('a half-written fill left by a killed facade process is discarded at the next start', async () => {
    const dir = newDir();
    const digest = await upstream.pushBlob('killed/app', randomBytes(16 * MiB));
    const port = await freePort();
    const config = join(dir, '..', `${dir.split('/').pop()}.yml`);
    writeFileSync(
      config,
      [
        'registry:',
        `  listen: 127.0.0.1:${port}`,
        "  metricsListen: ''",
        `  upstreams: [{name: relay, prefix: relay, url: "http://${relay.hostPort}"}]`,
        `  auth: {chain: [{static: {users: [{username: alice, password: ${cacheUsers.alice.password}}]}}], rules: [{identity: alice, repositories: ["**"]}]}`,
        `  cache: {blobs: {dir: ${dir}}}`,
        'log: {level: error}',
      ].join('\n'),
    );
    relay.bytesPerSecond = 4 * MiB;
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'bin/main.ts', 'registry', '--config', config], { cwd: ROOT, stdio: 'ignore' });
    try {
      await waitFor(() => existsSync(join(dir, 'tmp')), 20_000, 'the child facade');
      await new Promise((r) => setTimeout(r, 1500));
      const facadeUrl = `http://127.0.0.1:${port}`;
      const token = await fetch(`${facadeUrl}/token?service=imagegate-registry&scope=repository:relay/killed/app:pull`, {
        headers: { authorization: `Basic ${Buffer.from(`alice:${cacheUsers.alice.password}`).toString('base64')}` },
      }).then((r) => r.json() as Promise<{ token: string }>);
      // The facade is killed mid-transfer: this download ends with a reset, by design.
      const cut = download(facadeUrl, `/v2/relay/killed/app/blobs/${digest}`, { authorization: `Bearer ${token.token}` }).catch(() => undefined);
      const partial = () => readdirSync(join(dir, 'tmp')).map((f) => statSync(join(dir, 'tmp', f)).size);
      await waitFor(() => partial().some((size) => size > MiB), 20_000, 'a partial fill');
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      await cut;
    } finally {
      relay.bytesPerSecond = 0;
      child.kill('SIGKILL');
    }
    assert.equal(readdirSync(join(dir, 'tmp')).length, 1, 'the killed process left its partial fill');
    rmSync(config);
    const facade = await start(dir);
    assert.deepEqual(readdirSync(join(dir, 'tmp')), []);
    assert.equal(existsSync(join(dir, 'blobs/sha256', digest.slice(7))), false);
    const got = await download(facade.url, `/v2/relay/killed/app/blobs/${digest}`, await pullAuth(facade, 'relay/killed/app'));
    assert.equal(got.digest, digest);
    assert.equal(await metric(facade, 'imagegate_registry_blob_cache_requests_total{result="miss"}'), 1);
  });

  it('filled to maxBytes: eviction skips the entry being served, whose transfer completes intact', async () => {
    const dir = newDir();
    const [a, b, c] = await Promise.all([16, 16, 30].map((n, i) => upstream.pushBlob(`evict/app${i}`, randomBytes(n * MiB))));
    const facade = await start(dir, {}, 40 * MiB);
    const auth = [0, 1, 2].map((i) => pullAuth(facade, `priv/evict/app${i}`));
    await download(facade.url, `/v2/priv/evict/app0/blobs/${a}`, await auth[0]);
    await download(facade.url, `/v2/priv/evict/app1/blobs/${b}`, await auth[1]);
    // A slow client holds the oldest entry open while a larger blob needs the room.
    const slow = download(facade.url, `/v2/priv/evict/app0/blobs/${a}`, await auth[0], 1500);
    await new Promise((r) => setTimeout(r, 200));
    const big = await download(facade.url, `/v2/priv/evict/app2/blobs/${c}`, await auth[2]);
    assert.equal(big.digest, c);
    const served = await slow;
    assert.equal(served.error, undefined);
    assert.equal(served.digest, a);
    assert.ok((await metric(facade, 'imagegate_registry_blob_cache_evictions_total')) >= 1);
    assert.equal(existsSync(join(dir, 'blobs/sha256', b.slice(7))), false, 'the unpinned entry was not evicted');
    assert.equal(existsSync(join(dir, 'blobs/sha256', a.slice(7))), true, 'the entry being served was evicted');
    assert.ok((await metric(facade, 'imagegate_registry_blob_cache_size_bytes')) <= 40 * MiB);
  });

  for (const [what, options] of [['read-only', 'ro'], ['full', 'size=2m']] as const) {
    it(`a ${what} cache directory: pulls still work, streamed from the upstream`, async () => {
      const dir = newDir();
      execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
      mounts.push(dir);
      const data = randomBytes(8 * MiB);
      const digest = await upstream.pushBlob(`disk-${what}/app`, data);
      const facade = await start(dir);
      const auth = await pullAuth(facade, `priv/disk-${what}/app`);
      const results = await Promise.all([0, 1, 2].map(() => download(facade.url, `/v2/priv/disk-${what}/app/blobs/${digest}`, auth)));
      for (const r of results) {
        assert.equal(r.error, undefined);
        assert.equal(r.digest, digest);
      }
      const again = await download(facade.url, `/v2/priv/disk-${what}/app/blobs/${digest}`, auth);
      assert.equal(again.digest, digest);
      assert.equal(await hits(facade), 0);
      if (what === 'full') assert.ok((await metric(facade, 'imagegate_registry_blob_cache_fills_total{result="error"}')) >= 1, 'the fill did not fail on the full disk');
      else assert.ok((await metric(facade, 'imagegate_registry_blob_cache_requests_total{result="bypass"}')) >= 4);
    });
  }

  it('upstream stopped: cached blobs and, with maxStale, tag manifests still pull (Warning: 110); without maxStale UNAVAILABLE as before', async () => {
    const dir = newDir();
    const image = await upstream.pushImage('outage/app', '1');
    const stale = await start(dir, { tags: { maxStale: '1h' } });
    const plain = await start(newDir());
    const auth = await pullAuth(stale, 'priv/outage/app');
    const plainAuth = await pullAuth(plain, 'priv/outage/app');
    const fresh = await raw(stale.url, '/v2/priv/outage/app/manifests/1', { headers: { ...auth, accept: OCI_MANIFEST } });
    assert.equal(fresh.status, 200);
    assert.equal(fresh.headers.warning, undefined);
    for (const d of [image.configDigest, ...image.layerDigests]) await download(stale.url, `/v2/priv/outage/app/blobs/${d}`, auth);
    await raw(plain.url, '/v2/priv/outage/app/manifests/1', { headers: { ...plainAuth, accept: OCI_MANIFEST } });
    await upstream.stop();
    try {
      const m = await raw(stale.url, '/v2/priv/outage/app/manifests/1', { headers: { ...auth, accept: OCI_MANIFEST } });
      assert.equal(m.status, 200);
      assert.equal(m.headers.warning, '110 - "Response is Stale"');
      assert.deepEqual(m.body, fresh.body);
      assert.equal(m.headers['docker-content-digest'], image.manifestDigest);
      const head = await raw(stale.url, '/v2/priv/outage/app/manifests/1', { method: 'HEAD', headers: { ...auth, accept: OCI_MANIFEST } });
      assert.equal(head.status, 200);
      const byDigest = await raw(stale.url, `/v2/priv/outage/app/manifests/${image.manifestDigest}`, { headers: { ...auth, accept: OCI_MANIFEST } });
      assert.equal(byDigest.status, 200);
      for (const d of [image.configDigest, ...image.layerDigests]) {
        const r = await download(stale.url, `/v2/priv/outage/app/blobs/${d}`, auth);
        assert.equal(r.digest, d);
      }
      assert.ok((await metric(stale, 'imagegate_registry_manifest_stale_serves_total{reason="unavailable"}')) >= 2);
      const refused = await raw(plain.url, '/v2/priv/outage/app/manifests/1', { headers: { ...plainAuth, accept: OCI_MANIFEST } });
      assert.equal(refused.status, 503);
      assert.equal(refused.json.errors[0].code, 'UNAVAILABLE');
    } finally {
      await upstream.resume();
    }
  });
});
