import assert from 'node:assert/strict';
import { BoundedCache } from '../../src/lib/bounded-cache';

/** A clock the test moves by hand. */
function manualClock(start = 1_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('lib: BoundedCache', () => {
  describe('eviction', () => {
    it('holds at most max entries, forgetting the least recently used first', () => {
      const cache = new BoundedCache<string, number>({ max: 3 });
      for (const k of ['a', 'b', 'c']) cache.set(k, 1);
      cache.get('a');
      cache.set('d', 1);
      assert.deepEqual([...cache.entries()].map(([k]) => k).sort(), ['a', 'c', 'd']);
      assert.equal(cache.size, 3);
    });

    it('peek does not change which entry goes first', () => {
      const cache = new BoundedCache<string, number>({ max: 2 });
      cache.set('a', 1);
      cache.set('b', 2);
      assert.equal(cache.peek('a'), 1);
      cache.set('c', 3);
      assert.equal(cache.has('a'), false);
    });

    it('holds at most maxSize in total, and never stores an entry larger than maxSize', () => {
      const cache = new BoundedCache<string, Buffer>({ max: 100, maxSize: 10, sizeOf: (b) => b.length });
      cache.set('a', Buffer.alloc(4));
      cache.set('b', Buffer.alloc(4));
      cache.set('c', Buffer.alloc(4));
      assert.equal(cache.has('a'), false, 'the oldest went to make room');
      assert.equal(cache.totalSize, 8);
      cache.set('huge', Buffer.alloc(11));
      assert.equal(cache.has('huge'), false);
      assert.equal(cache.totalSize, 8);
    });

    it('reports evictions and expiries, not deletes, clears or replacements', () => {
      const clock = manualClock();
      const gone: string[] = [];
      const cache = new BoundedCache<string, number>({ max: 2, ttlMs: 100, clock, onEvict: (k) => gone.push(k) });
      cache.set('a', 1);
      cache.set('a', 2);
      cache.set('b', 1);
      cache.set('c', 1);
      assert.deepEqual(gone, ['a']);
      cache.delete('b');
      assert.deepEqual(gone, ['a']);
      clock.advance(101);
      assert.equal(cache.get('c'), undefined);
      assert.deepEqual(gone, ['a', 'c']);
      cache.set('d', 1);
      cache.clear();
      assert.deepEqual(gone, ['a', 'c']);
    });
  });

  describe('lifetimes', () => {
    it('never returns an entry older than its ttl', () => {
      const clock = manualClock();
      const cache = new BoundedCache<string, string>({ max: 10, ttlMs: 1000, clock });
      cache.set('k', 'v');
      clock.advance(1000);
      assert.equal(cache.get('k'), 'v');
      clock.advance(1);
      assert.equal(cache.get('k'), undefined);
      assert.equal(cache.peek('k'), undefined);
    });

    it('takes a per-entry ttl, on set and from the loaded value', async () => {
      const clock = manualClock();
      const cache = new BoundedCache<string, { expiresAt: number }>({ max: 10, clock });
      cache.set('short', { expiresAt: 0 }, 10);
      await cache.load('token', async () => ({ expiresAt: clock.now() + 500 }), (v) => v.expiresAt - clock.now());
      clock.advance(11);
      assert.equal(cache.get('short'), undefined);
      assert.ok(cache.get('token'));
      clock.advance(490);
      assert.equal(cache.get('token'), undefined);
    });
  });

  describe('load', () => {
    it('shares one loader call among concurrent callers, then answers from memory', async () => {
      const cache = new BoundedCache<string, string>({ max: 10 });
      let calls = 0;
      const loader = async () => {
        calls++;
        await tick();
        return 'v';
      };
      const answers = await Promise.all(Array.from({ length: 50 }, () => cache.load('k', loader)));
      assert.deepEqual(new Set(answers), new Set(['v']));
      assert.equal(calls, 1);
      assert.equal(await cache.load('k', loader), 'v');
      assert.equal(calls, 1);
    });

    it('says while a load runs', async () => {
      const cache = new BoundedCache<string, string>({ max: 10 });
      let release!: () => void;
      const pending = cache.load('k', () => new Promise<string>((resolve) => (release = () => resolve('v'))));
      assert.equal(cache.loading('k'), true);
      release();
      await pending;
      assert.equal(cache.loading('k'), false);
    });

    it('stores neither undefined nor a failure; a failure reaches every waiting caller', async () => {
      const cache = new BoundedCache<string, string>({ max: 10 });
      assert.equal(await cache.load('k', async () => undefined), undefined);
      assert.equal(cache.has('k'), false);
      let calls = 0;
      const failing = async () => {
        calls++;
        await tick();
        throw new Error('boom');
      };
      const results = await Promise.allSettled([cache.load('k', failing), cache.load('k', failing)]);
      assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
      assert.equal(calls, 1);
      assert.equal(cache.has('k'), false);
      assert.equal(await cache.load('k', async () => 'ok'), 'ok', 'the next load runs afresh');
    });

    it('answers a load that overlapped a clear or delete, without storing it', async () => {
      const cache = new BoundedCache<string, string>({ max: 10 });
      for (const invalidate of [() => cache.clear(), () => cache.delete('k')]) {
        let release!: () => void;
        const pending = cache.load('k', () => new Promise<string>((resolve) => (release = () => resolve('old'))));
        invalidate();
        release();
        assert.equal(await pending, 'old');
        assert.equal(cache.has('k'), false);
      }
    });
  });
});
