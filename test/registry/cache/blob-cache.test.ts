import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { startTestFacade } from '../support/facade';
import { download } from '../support/download';
import { FaultyRelay, PrivateUpstream } from '../support/private-upstream';
import { raw } from '../support/raw';
import { type Facade, cacheConfig, cacheDir, cacheUsers, hits, metric, pullAuth } from './support';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('registry blob cache: a verified pull-through disk cache over a real docker-registry', function () {
  this.timeout(120_000);
  let upstream: PrivateUpstream;
  let relay: FaultyRelay;
  let dir: string;
  let facade: Facade;

  before(async () => {
    upstream = await PrivateUpstream.start();
    relay = await FaultyRelay.start(upstream.hostPort);
    dir = cacheDir();
    facade = await startTestFacade(cacheConfig({ priv: upstream.hostPort, relay: relay.hostPort }, { blobs: { dir, maxBytes: 512 * MiB } }));
  });
  after(async () => {
    await facade?.close(1000);
    await relay?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves a blob from the upstream once, then from disk with the same bytes and headers (no upstream GET)', async () => {
    const data = randomBytes(3 * MiB);
    const digest = await upstream.pushBlob('team-a/one', data);
    const auth = await pullAuth(facade, 'priv/team-a/one');
    const direct = await raw(`http://${upstream.hostPort}`, `/v2/team-a/one/blobs/${digest}`);
    const first = await download(facade.url, `/v2/priv/team-a/one/blobs/${digest}`, auth);
    const before = upstream.blobGets('team-a/one');
    const second = await download(facade.url, `/v2/priv/team-a/one/blobs/${digest}`, auth);
    const head = await raw(facade.url, `/v2/priv/team-a/one/blobs/${digest}`, { method: 'HEAD', headers: auth });
    assert.equal(first.digest, digest);
    assert.equal(second.digest, digest);
    assert.equal(second.error, undefined);
    assert.equal(upstream.blobGets('team-a/one'), before, 'the second GET reached the upstream');
    for (const name of ['content-type', 'content-length', 'docker-content-digest', 'etag', 'accept-ranges']) {
      assert.equal(second.headers[name], direct.headers[name], name);
      assert.equal(head.headers[name], direct.headers[name], `HEAD ${name}`);
    }
    assert.ok(existsSync(join(dir, 'blobs/sha256', digest.slice(7))));
    // Layers of private images: readable by the facade's user only.
    assert.equal(statSync(join(dir, 'blobs/sha256', digest.slice(7))).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.ok((await hits(facade)) >= 2);
  });

  it('hits sent by the native file relay: 10 clients hanging up mid-blob leave no descriptor behind, and the next hit is whole', async () => {
    const data = randomBytes(16 * MiB);
    const digest = await upstream.pushBlob('team-a/hangup', data);
    const auth = await pullAuth(facade, 'priv/team-a/hangup');
    const path = `/v2/priv/team-a/hangup/blobs/${digest}`;
    await download(facade.url, path, auth);
    assert.equal((await download(facade.url, path, auth)).digest, digest);
    const baseline = openFds();
    for (let i = 0; i < 10; i++) {
      await new Promise<void>((resolve) => {
        const req = http.get(`${facade.url}${path}`, { agent: false, headers: auth }, (res) => res.once('data', () => (req.destroy(), resolve())));
        req.once('error', () => resolve());
      });
    }
    for (let i = 0; i < 50 && openFds() > baseline; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(openFds() <= baseline, `descriptors left open after clients hung up: ${openFds()} > ${baseline}`);
    assert.equal((await download(facade.url, path, auth)).digest, digest);
  });

  it('a cached file cut short on disk: a hit in progress is cut, never completed; the next request refetches whole and caches again', async () => {
    const data = randomBytes(64 * MiB);
    const digest = await upstream.pushBlob('team-a/truncated', data);
    const auth = await pullAuth(facade, 'priv/team-a/truncated');
    const path = `/v2/priv/team-a/truncated/blobs/${digest}`;
    const file = join(dir, 'blobs/sha256', digest.slice(7));
    await download(facade.url, path, auth);
    // A slow client holds the hit open; the file loses its second half meanwhile.
    const cut = download(facade.url, path, auth, 1500);
    await new Promise((r) => setTimeout(r, 500));
    truncateSync(file, 32 * MiB);
    const broken = await cut;
    assert.ok(broken.error, 'the hit completed from a file cut short');
    assert.ok(broken.bytes <= 32 * MiB, `${broken.bytes} bytes sent`);
    // Now the file's size no longer matches the index: dropped, served whole from the upstream.
    const gets = upstream.blobGets('team-a/truncated');
    const whole = await download(facade.url, path, auth);
    assert.equal(whole.error, undefined);
    assert.equal(whole.digest, digest);
    assert.equal(upstream.blobGets('team-a/truncated'), gets + 1);
    // And cached again: one more fill, then a hit with no upstream GET.
    await download(facade.url, path, auth);
    const before = upstream.blobGets('team-a/truncated');
    const hitsBefore = await hits(facade);
    assert.equal((await download(facade.url, path, auth)).digest, digest);
    assert.equal(upstream.blobGets('team-a/truncated'), before);
    assert.equal(await hits(facade), hitsBefore + 1);
    assert.equal(statSync(file).size, 64 * MiB);
  });

  it('answers Range requests from disk with 206 and Content-Range, like the upstream', async () => {
    const data = randomBytes(2 * MiB);
    const digest = await upstream.pushBlob('team-a/range', data);
    const auth = await pullAuth(facade, 'priv/team-a/range');
    const ranges = [['bytes=10-109', 10, 109], ['bytes=1048576-', MiB, 2 * MiB - 1], ['bytes=-100', 2 * MiB - 100, 2 * MiB - 1]] as const;
    const directs = await Promise.all(ranges.map(([range]) => raw(`http://${upstream.hostPort}`, `/v2/team-a/range/blobs/${digest}`, { headers: { range } })));
    await download(facade.url, `/v2/priv/team-a/range/blobs/${digest}`, auth);
    const before = upstream.blobGets('team-a/range');
    for (const [i, [range, start, end]] of ranges.entries()) {
      const res = await raw(facade.url, `/v2/priv/team-a/range/blobs/${digest}`, { headers: { ...auth, range } });
      const direct = directs[i];
      assert.equal(res.status, 206, range);
      assert.equal(res.headers['content-range'], direct.headers['content-range'], range);
      assert.deepEqual(res.body, data.subarray(start, end + 1), range);
    }
    const bad = await raw(facade.url, `/v2/priv/team-a/range/blobs/${digest}`, { headers: { ...auth, range: `bytes=${3 * MiB}-` } });
    assert.equal(bad.status, 416);
    assert.equal(upstream.blobGets('team-a/range'), before);
  });

  it('16 concurrent clients of one uncached 64 MiB blob: exactly one upstream GET, identical bytes for all', async () => {
    const data = randomBytes(64 * MiB);
    const digest = await upstream.pushBlob('team-a/big', data);
    const auth = await pullAuth(facade, 'priv/team-a/big');
    const results = await Promise.all(Array.from({ length: 16 }, () => download(facade.url, `/v2/priv/team-a/big/blobs/${digest}`, auth)));
    for (const r of results) {
      assert.equal(r.status, 200);
      assert.equal(r.error, undefined);
      assert.equal(r.digest, digest);
    }
    assert.equal(upstream.blobGets('team-a/big'), 1);
    assert.equal(await metric(facade, 'imagegate_registry_blob_cache_requests_total{result="miss"}') >= 1, true);
    assert.ok((await metric(facade, 'imagegate_registry_blob_cache_requests_total{result="shared"}')) + (await hits(facade)) >= 15);
  });

  it('a blob corrupted by the upstream is not kept: the transfer is cut, the failure counted, a later healthy pull is cached', async () => {
    const data = randomBytes(8 * MiB);
    const digest = await upstream.pushBlob('team-a/corrupt', data);
    const auth = await pullAuth(facade, 'relay/team-a/corrupt');
    relay.corrupt = true;
    const bad = await Promise.all([0, 1].map(() => download(facade.url, `/v2/relay/team-a/corrupt/blobs/${digest}`, auth)));
    relay.corrupt = false;
    for (const r of bad) {
      assert.ok(r.error, 'the client completed a corrupted blob');
      assert.ok(r.bytes < data.length);
    }
    assert.equal(await metric(facade, 'imagegate_registry_blob_cache_fills_total{result="mismatch"}'), 1);
    assert.equal(existsSync(join(dir, 'blobs/sha256', digest.slice(7))), false);
    assert.deepEqual(readdirSync(join(dir, 'tmp')), []);
    const gets = relay.blobGets;
    const good = await download(facade.url, `/v2/relay/team-a/corrupt/blobs/${digest}`, auth);
    assert.equal(good.digest, digest);
    assert.equal(relay.blobGets, gets + 1);
    const again = await download(facade.url, `/v2/relay/team-a/corrupt/blobs/${digest}`, auth);
    assert.equal(again.digest, digest);
    assert.equal(relay.blobGets, gets + 1, 'the healthy pull was not cached');
  });

  it('tenant isolation: a digest cached for repository A is not served to a client of repository B the upstream does not confirm', async () => {
    const secret = randomBytes(MiB);
    const digest = await upstream.pushBlob('team-a/app', secret);
    await download(facade.url, `/v2/priv/team-a/app/blobs/${digest}`, await pullAuth(facade, 'priv/team-a/app'));
    const hitsBefore = await hits(facade);
    const bob = await pullAuth(facade, 'priv/team-b/app', cacheUsers.bob);
    const denied = await raw(facade.url, `/v2/priv/team-b/app/blobs/${digest}`, { headers: bob });
    assert.equal(denied.status, 404);
    assert.equal(denied.json.errors[0].code, 'BLOB_UNKNOWN');
    const deniedHead = await raw(facade.url, `/v2/priv/team-b/app/blobs/${digest}`, { method: 'HEAD', headers: bob });
    assert.equal(deniedHead.status, 404);
    assert.equal(await hits(facade), hitsBefore);
    // Bob's token does not cover team-a at all: the facade's authorisation answers first.
    const other = await raw(facade.url, `/v2/priv/team-a/app/blobs/${digest}`, { headers: bob });
    assert.equal(other.status, 401);
    // Once the upstream holds the blob in team-b too, its answer (a HEAD) lets the cached copy serve bob.
    await upstream.pushBlob('team-b/app', secret);
    const gets = upstream.blobGets('team-b/app');
    const served = await download(facade.url, `/v2/priv/team-b/app/blobs/${digest}`, bob);
    assert.equal(served.digest, sha256(secret));
    assert.equal(upstream.blobGets('team-b/app'), gets, 'served by a second upstream GET instead of the cache');
    assert.equal(await hits(facade), hitsBefore + 1);
  });

  it('a manifest fetched for a repository links the blobs it names, so they are served from cache there', async () => {
    const image = await upstream.pushImage('team-a/shared', '1');
    const auth = await pullAuth(facade, 'priv/team-a/shared');
    for (const d of [image.configDigest, ...image.layerDigests]) await download(facade.url, `/v2/priv/team-a/shared/blobs/${d}`, auth);
    // The same image in team-b: its manifest, fetched through the facade, names the cached blobs.
    const manifest = await raw(`http://${upstream.hostPort}`, `/v2/team-a/shared/manifests/1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    for (const d of [image.configDigest, ...image.layerDigests]) {
      const blob = await raw(`http://${upstream.hostPort}`, `/v2/team-a/shared/blobs/${d}`);
      await upstream.pushBlob('team-b/shared', blob.body);
    }
    await fetch(`http://${upstream.hostPort}/v2/team-b/shared/manifests/1`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest.body });
    const bob = await pullAuth(facade, 'priv/team-b/shared', cacheUsers.bob);
    const m = await raw(facade.url, '/v2/priv/team-b/shared/manifests/1', { headers: { ...bob, accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(m.status, 200);
    const logBefore = upstream.blobGets('team-b/shared');
    const hitsBefore = await hits(facade);
    for (const d of [image.configDigest, ...image.layerDigests]) {
      const r = await download(facade.url, `/v2/priv/team-b/shared/blobs/${d}`, bob);
      assert.equal(r.digest, d);
    }
    assert.equal(upstream.blobGets('team-b/shared'), logBefore);
    assert.equal(await hits(facade), hitsBefore + 2);
  });

  it('without zero-copy (zeroCopy: false, as with TLS) hits and shared fills stream through user space, byte for byte', async () => {
    const streamDir = cacheDir();
    const streaming = await startTestFacade({ ...cacheConfig({ priv: upstream.hostPort }, { blobs: { dir: streamDir, maxBytes: 512 * MiB } }), zeroCopy: false });
    try {
      const data = randomBytes(24 * MiB);
      const digest = await upstream.pushBlob('team-a/streamed', data);
      const auth = await pullAuth(streaming, 'priv/team-a/streamed');
      const path = `/v2/priv/team-a/streamed/blobs/${digest}`;
      const results = [...(await Promise.all([0, 1, 2, 3].map(() => download(streaming.url, path, auth)))), await download(streaming.url, path, auth, 300)];
      for (const r of results) {
        assert.equal(r.error, undefined);
        assert.equal(r.digest, digest);
      }
      assert.equal(upstream.blobGets('team-a/streamed'), 1);
      assert.equal(await metric(streaming, 'imagegate_registry_bytes_streamed_total{upstream="priv",kind="blob",relay="file"}'), 0);
    } finally {
      await streaming.close(1000);
      rmSync(streamDir, { recursive: true, force: true });
    }
  });

  it('exports its metrics (requests, fills, bytes from cache and upstream, size) and served by the native file relay', async () => {
    assert.ok((await metric(facade, 'imagegate_registry_blob_cache_fills_total{result="ok"}')) >= 4);
    assert.ok((await metric(facade, 'imagegate_registry_blob_cache_bytes_total{source="cache"}')) > 64 * MiB);
    assert.ok((await metric(facade, 'imagegate_registry_blob_cache_bytes_total{source="upstream"}')) > 64 * MiB);
    assert.ok((await metric(facade, 'imagegate_registry_blob_cache_size_bytes')) > 64 * MiB);
    assert.ok((await metric(facade, 'imagegate_registry_blob_cache_entries')) >= 5);
    // Hits and fills went from the file to the socket on the native relay's thread.
    assert.ok((await metric(facade, 'imagegate_registry_bytes_streamed_total{upstream="priv",kind="blob",relay="file"}')) > 64 * MiB);
  });
});

/** Descriptors open in this process (the facade runs in it). */
function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}
