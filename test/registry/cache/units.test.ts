import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { fstatSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobIndex } from '../../../src/registry/cache/blob-index';
import { FileReads } from '../../../src/registry/cache/file-reads';
import { Fill } from '../../../src/registry/cache/fill';
import { referencedDigests } from '../../../src/registry/cache/manifest-links';
import { parseRange } from '../../../src/registry/cache/range';
import { StaleManifests } from '../../../src/registry/cache/stale-manifests';
import { registrySchema } from '../../../src/registry/config';
import { RegistryError } from '../../../src/registry/errors';
import { BufferBody } from '../../../src/registry/upstream/buffer-body';
import type { Upstream, UpstreamRequest, UpstreamResponse } from '../../../src/registry/upstream/upstream';

const D = (c: string) => `sha256:${c.repeat(64)}`;

describe('registry blob cache: building blocks', () => {
  describe('Range parsing', () => {
    const table: [string | undefined, unknown][] = [
      [undefined, undefined],
      ['bytes=0-99', { start: 0, end: 99 }],
      ['bytes=900-', { start: 900, end: 999 }],
      ['bytes=-10', { start: 990, end: 999 }],
      ['bytes=-5000', { start: 0, end: 999 }],
      ['bytes=990-5000', { start: 990, end: 999 }],
      ['bytes=0-1,5-6', undefined],
      ['items=0-1', undefined],
      ['bytes=50-10', undefined],
    ];
    for (const [header, want] of table) it(`${header} of 1000 bytes → ${JSON.stringify(want)}`, () => assert.deepEqual(parseRange(header, 1000), want));
    for (const header of ['bytes=1000-', 'bytes=-0']) {
      it(`${header} of 1000 bytes is RANGE_INVALID with Content-Range bytes */1000`, () =>
        assert.throws(() => parseRange(header, 1000), (e: RegistryError) => e.code === 'RANGE_INVALID' && e.headers['content-range'] === 'bytes */1000'));
    }
  });

  describe('LRU index', () => {
    it('evicts least recently used first, by bytes', () => {
      const evicted: string[] = [];
      const index = new BlobIndex(100, (d) => evicted.push(d));
      index.add(D('a'), 40);
      index.add(D('b'), 40);
      index.use(D('a'));
      assert.ok(index.reserve(40));
      assert.deepEqual(evicted, [D('b')]);
      index.add(D('c'), 40, 40);
      assert.equal(index.bytes, 80);
    });

    it('never evicts a pinned entry; refuses the reservation instead', () => {
      const evicted: string[] = [];
      const index = new BlobIndex(100, (d) => evicted.push(d));
      index.add(D('a'), 60);
      index.pin(D('a'));
      assert.equal(index.reserve(50), false);
      assert.deepEqual(evicted, []);
      index.unpin(D('a'));
      assert.ok(index.reserve(50));
      assert.deepEqual(evicted, [D('a')]);
    });

    it('refuses a blob larger than maxBytes and counts reservations against the room', () => {
      const index = new BlobIndex(100, () => undefined);
      assert.equal(index.reserve(101), false);
      assert.ok(index.reserve(70));
      assert.equal(index.reserve(40), false);
      index.unreserve(70);
      assert.ok(index.reserve(40));
    });
  });

  describe('manifest links', () => {
    it('names the config and layers of an image manifest; nothing for an index or junk', () => {
      const manifest = Buffer.from(JSON.stringify({ config: { digest: D('a') }, layers: [{ digest: D('b') }, { digest: '../../etc' }] }));
      assert.deepEqual(referencedDigests(manifest), [D('a'), D('b')]);
      assert.deepEqual(referencedDigests(Buffer.from(JSON.stringify({ manifests: [{ digest: D('c') }] }))), []);
      assert.deepEqual(referencedDigests(Buffer.from('not json')), []);
    });
  });

  describe('stale tag manifests', () => {
    /** An upstream whose next answer the test sets: a manifest, or a thrown error. */
    class Scripted implements Upstream {
      readonly name = 'scripted';
      next: (() => UpstreamResponse) | RegistryError = () => ({ status: 200, headers: { 'content-type': 'x/y', 'docker-content-digest': D('f') }, body: Readable.from([Buffer.from('{}')]) });
      async fetch(_request: UpstreamRequest): Promise<UpstreamResponse> {
        if (this.next instanceof RegistryError) throw this.next;
        return this.next();
      }
      async close() {}
    }
    const req = (accept: string): UpstreamRequest => ({ kind: 'manifest', method: 'GET', repository: 'r', reference: 'v1', accept: [accept] });
    const read = async (res: UpstreamResponse) => Buffer.concat(await res.body!.toArray()).toString();

    it('serves the last answer with Warning 110 on UNAVAILABLE and 429, within maxStale, for any order of the same Accept list', async () => {
      let now = 0;
      const inner = new Scripted();
      const stale = new StaleManifests(inner, { maxStaleMs: 1000, maxEntries: 10, now: () => now });
      await read(await stale.fetch(req('a/b, c/d')));
      for (const err of [new RegistryError('UNAVAILABLE', 'down'), new RegistryError('TOOMANYREQUESTS', 'slow down')]) {
        inner.next = err;
        now = 1000;
        const res = await stale.fetch(req('c/d,a/b'));
        assert.equal(res.headers.warning, '110 - "Response is Stale"');
        assert.equal(await read(res), '{}');
      }
      now = 1001;
      await assert.rejects(stale.fetch(req('a/b, c/d')), { code: 'TOOMANYREQUESTS' });
    });

    it('passes every other error on (an unknown or denied manifest is not an outage)', async () => {
      const inner = new Scripted();
      const stale = new StaleManifests(inner, { maxStaleMs: 1000, maxEntries: 10, now: () => 0 });
      await read(await stale.fetch(req('a/b')));
      for (const code of ['MANIFEST_UNKNOWN', 'DENIED'] as const) {
        inner.next = new RegistryError(code, 'no');
        await assert.rejects(stale.fetch(req('a/b')), { code });
      }
    });
  });

  describe('one descriptor, read then closed (FileReads)', () => {
    it('closes after the read in flight, never under it, and drops that read\'s callback; a second close does nothing', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'imagegate-file-reads-'));
      try {
        writeFileSync(join(dir, 'f'), Buffer.alloc(1 << 20, 7));
        const fd = openSync(join(dir, 'f'), 'r');
        const reads = new FileReads(fd);
        let delivered = false;
        reads.read(1 << 20, 0, () => (delivered = true));
        const closed = new Promise<void>((done) => reads.close(done));
        reads.close(() => assert.fail('closed twice'));
        await closed;
        assert.equal(delivered, false, 'a read finished after close() was asked for must not be delivered');
        assert.throws(() => fstatSync(fd), /EBADF/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('delivers what it read, and an empty chunk at the end of the file', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'imagegate-file-reads-'));
      try {
        writeFileSync(join(dir, 'f'), 'abcdef');
        const reads = new FileReads(openSync(join(dir, 'f'), 'r'));
        const read = (length: number, position: number) => new Promise<string>((done, fail) => reads.read(length, position, (err, chunk) => (err ? fail(err) : done(chunk.toString()))));
        assert.equal(await read(4, 2), 'cdef');
        assert.equal(await read(4, 6), '');
        await new Promise<void>((done) => reads.close(done));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('fill progress (Fill.wait)', () => {
    it('wakes a waiter only once the bytes it waits for are written, and every waiter when the fill settles', () => {
      const fill = new Fill(D('a'), 100, {}, '/nonexistent');
      const woken: string[] = [];
      fill.wait(() => woken.push('next'));
      fill.wait(() => woken.push('at 50'), 50);
      fill.wait(() => woken.push('at end'), Infinity);
      fill.progress(10);
      assert.deepEqual(woken, ['next']);
      fill.progress(30);
      assert.deepEqual(woken, ['next'], 'a waiter for 50 bytes is not woken at 40');
      fill.progress(10);
      assert.deepEqual(woken, ['next', 'at 50']);
      fill.settle('verified');
      assert.deepEqual(woken, ['next', 'at 50', 'at end']);
    });
  });

  describe('bodies held in memory (BufferBody)', () => {
    it('streams its bytes like any body, for consumers that pipe it', async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of new BufferBody(Buffer.from('{"schemaVersion":2}'))) chunks.push(chunk as Buffer);
      assert.equal(Buffer.concat(chunks).toString(), '{"schemaVersion":2}');
    });
  });

  describe('configuration', () => {
    const base = { upstreams: [{ name: 'u', url: 'http://127.0.0.1:5000' }] };
    it('is off by default: no blob cache, maxStale 0', () => {
      const c = registrySchema.parse(base);
      assert.equal(c.cache.blobs, undefined);
      assert.equal(c.cache.tags.maxStale, 0);
      assert.equal(c.cache.tags.maxEntries, 4096);
    });
    it('defaults maxBytes to 10 GiB and reads maxStale as a duration', () => {
      const c = registrySchema.parse({ ...base, cache: { blobs: { dir: '/var/cache/imagegate' }, tags: { maxStale: '6h' } } });
      assert.equal(c.cache.blobs?.maxBytes, 10 * 1024 ** 3);
      assert.equal(c.cache.tags.maxStale, 6 * 3600_000);
    });
    it('names the path of a bad value', () => {
      const r = registrySchema.safeParse({ ...base, cache: { blobs: { dir: 'x', maxBytes: 10 } } });
      assert.equal(r.success, false);
      assert.deepEqual(r.error!.issues[0].path, ['cache', 'blobs', 'maxBytes']);
      const s = registrySchema.safeParse({ ...base, cache: { blobs: { maxBytes: 1e9 } } });
      assert.deepEqual(s.error!.issues[0].path, ['cache', 'blobs', 'dir']);
    });
  });
});
