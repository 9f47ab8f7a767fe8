import assert from 'node:assert/strict';
import { TokenCache, type Minted } from '../../src/credentials/token-cache';
import { FakeClock, settle } from './fake-clock';

const MIN = 60_000;

/** A mint function that counts calls, can be told to fail, and can be held until released. */
function fakeMint(clock: FakeClock, lifetimeMs: number) {
  const state = { calls: 0, failing: false, held: undefined as undefined | (() => void) };
  const mint = async (): Promise<Minted<string>> => {
    state.calls += 1;
    const n = state.calls;
    if (state.held) await new Promise<void>((r) => (state.held = r));
    if (state.failing) throw Object.assign(new Error('AWS is down'), { name: 'ServiceUnavailable' });
    return { value: `token-${n}`, expiresAt: clock.now() + lifetimeMs };
  };
  return { mint, state };
}

describe('token cache (fake clock)', () => {
  let clock: FakeClock;
  let cache: TokenCache;
  beforeEach(() => {
    clock = new FakeClock();
    cache = new TokenCache({ clock, jitter: 0, random: () => 0, backoffInitialMs: 1000, backoffMaxMs: 8000 });
  });
  afterEach(() => cache.close());

  it('serves a cached token until the refresh point', async () => {
    const { mint, state } = fakeMint(clock, 60 * MIN);
    assert.equal(await cache.get('k', mint, { skewMs: 5 * MIN }), 'token-1');
    await clock.advance(50 * MIN);
    assert.equal(await cache.get('k', mint, { skewMs: 5 * MIN }), 'token-1');
    assert.equal(state.calls, 1);
  });

  it('refreshes ahead of expiry in the background, so callers never wait after warm-up', async () => {
    const { mint, state } = fakeMint(clock, 60 * MIN);
    await cache.get('k', mint, { skewMs: 5 * MIN });
    await clock.advance(10 * MIN);
    await cache.get('k', mint, { skewMs: 5 * MIN }); // used since the mint → worth refreshing
    await clock.advance(45 * MIN); // the refresh point, 55 min
    assert.equal(state.calls, 2);
    state.held = () => undefined; // any further mint would block the caller
    assert.equal(await cache.get('k', mint, { skewMs: 5 * MIN }), 'token-2');
  });

  it('caps the skew at half the lifetime and defaults to half the lifetime', async () => {
    const jwt = fakeMint(clock, 2 * MIN);
    await cache.get('jwt', jwt.mint, { skewMs: 5 * MIN });
    const ecr = fakeMint(clock, 12 * 60 * MIN);
    await cache.get('ecr', ecr.mint);
    await clock.advance(59_000);
    await cache.get('jwt', jwt.mint, { skewMs: 5 * MIN });
    await cache.get('ecr', ecr.mint);
    assert.equal(jwt.state.calls, 1, 'not refreshed before half of 2 min');
    await clock.advance(2_000);
    assert.equal(jwt.state.calls, 2, 'refreshed at half of 2 min, not 5 min early');
    await clock.advance(6 * 60 * MIN - 61_000 - 1);
    assert.equal(ecr.state.calls, 1);
    await clock.advance(1);
    assert.equal(ecr.state.calls, 2, 'ECR refreshed at half of 12 h');
  });

  it('shares one mint among 100 concurrent callers', async () => {
    const { mint, state } = fakeMint(clock, 60 * MIN);
    const values = await Promise.all(Array.from({ length: 100 }, () => cache.get('k', mint)));
    assert.equal(state.calls, 1);
    assert.ok(values.every((v) => v === 'token-1'));
  });

  it('keeps serving a still-valid token while AWS fails, and never an expired one', async () => {
    const { mint, state } = fakeMint(clock, 10 * MIN);
    await cache.get('k', mint, { skewMs: 5 * MIN });
    state.failing = true;
    await clock.advance(6 * MIN);
    assert.equal(await cache.get('k', mint, { skewMs: 5 * MIN }), 'token-1');
    await clock.advance(4 * MIN - 1);
    assert.equal(await cache.get('k', mint, { skewMs: 5 * MIN }), 'token-1');
    await clock.advance(1);
    await assert.rejects(cache.get('k', mint, { skewMs: 5 * MIN }), /AWS is down/);
    state.failing = false;
    await clock.advance(8000); // the hold after the last failure (backoffMaxMs)
    assert.equal(await cache.get('k', mint, { skewMs: 5 * MIN }), `token-${state.calls}`);
  });

  it('with no valid token, one mint per backoff period however the callers arrive (negative caching)', async () => {
    const held: string[] = [];
    const observed = new TokenCache({
      clock, jitter: 0, random: () => 0, backoffInitialMs: 1000, backoffMaxMs: 60_000, holdMaxMs: 4000,
      observer: { hit: () => undefined, miss: () => undefined, minted: () => undefined, failed: () => undefined, evicted: () => undefined, held: (k) => held.push(k) },
    });
    try {
      const { mint, state } = fakeMint(clock, 60 * MIN);
      state.failing = true;
      for (let i = 0; i < 20; i++) await assert.rejects(observed.get('k', mint), /AWS is down/);
      assert.equal(state.calls, 1, '20 sequential callers, one mint');
      assert.equal(held.length, 19);
      await Promise.all(Array.from({ length: 20 }, () => assert.rejects(observed.get('k', mint), /AWS is down/)));
      assert.equal(state.calls, 1, '20 concurrent callers in the same period, still one mint');
      const times: number[] = [];
      const start = clock.now();
      for (let step = 0; step < 40; step++) {
        const before = state.calls;
        await observed.get('k', mint).catch(() => undefined);
        if (state.calls > before) times.push(clock.now() - start);
        await clock.advance(500);
      }
      assert.deepEqual(times, [1000, 3000, 7000, 11_000, 15_000, 19_000], 'backoff 1 s, 2 s, 4 s, then the 4 s cap');
      assert.equal(await observed.get('other', fakeMint(clock, 60 * MIN).mint), 'token-1', 'other keys are not held');
      state.failing = false;
      await assert.rejects(observed.get('k', mint), /AWS is down/, 'still held');
      assert.equal(await observed.retryNow(() => observed.get('k', mint)), `token-${state.calls}`, 'retryNow lifts the hold');
      assert.equal(await observed.get('k', mint), `token-${state.calls}`);
    } finally {
      observed.close();
    }
  });

  it('retries failed refreshes with capped exponential backoff', async () => {
    const { mint, state } = fakeMint(clock, 60 * MIN);
    await cache.get('k', mint, { skewMs: 30 * MIN });
    await cache.get('k', mint, { skewMs: 30 * MIN });
    state.failing = true;
    await clock.advance(30 * MIN); // refresh → fails (call 2)
    const times: number[] = [];
    const start = clock.now();
    for (let i = 0; i < 8; i++) {
      const before = state.calls;
      for (let step = 0; step < 20 && state.calls === before; step++) await clock.advance(500);
      times.push(clock.now() - start);
    }
    const gaps = times.map((t, i) => t - (times[i - 1] ?? 0));
    assert.deepEqual(gaps, [1000, 2000, 4000, 8000, 8000, 8000, 8000, 8000]);
    state.failing = false;
    await clock.advance(8000);
    assert.equal(await cache.get('k', mint), `token-${state.calls}`);
  });

  it('stops refreshing keys nobody asks for, and forgets them at expiry', async () => {
    const { mint, state } = fakeMint(clock, 10 * MIN);
    await cache.get('k', mint);
    await clock.advance(10 * MIN - 1);
    assert.equal(cache.size, 1);
    await clock.advance(1);
    assert.equal(cache.size, 0);
    await clock.advance(60 * MIN);
    assert.equal(state.calls, 1);
    assert.equal(clock.pending, 0);
  });

  it('holds at most maxEntries keys, dropping the least recently used', async () => {
    const small = new TokenCache({ clock, maxEntries: 3 });
    const { mint, state } = fakeMint(clock, 60 * MIN);
    for (const k of ['a', 'b', 'c']) await small.get(k, mint);
    await small.get('a', mint);
    await small.get('d', mint);
    assert.equal(small.size, 3);
    await small.get('a', mint);
    assert.equal(state.calls, 4, '"a" was kept');
    await small.get('b', mint);
    assert.equal(state.calls, 5, '"b" was dropped');
    small.close();
  });

  it('does not tie a shared mint to the first caller', async () => {
    const { mint, state } = fakeMint(clock, 60 * MIN);
    state.held = () => undefined;
    const first = cache.get('k', mint);
    const second = cache.get('k', mint);
    await settle();
    state.held?.();
    state.held = undefined;
    assert.deepEqual(await Promise.all([first, second]), ['token-1', 'token-1']);
  });
});
