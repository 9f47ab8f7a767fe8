/**
 * The login limit stores: one suite every LoginLimitStore passes (memory, and
 * Redis on the shared CI server), then what only the Redis store does —
 * budgets shared by several stores (replicas), and counting locally, with a
 * metric and one log line, when Redis is unreachable or stops.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createRegistry } from '../../src/metrics/server';
import { createLogger } from '../../src/log/logger';
import { LoginLimiter } from '../../src/registry/access/login-limiter';
import { MemoryLimitStore } from '../../src/registry/access/limit-store/memory';
import { RedisLimitStore } from '../../src/registry/access/limit-store/redis';
import type { LoginLimitStore } from '../../src/registry/access/limit-store/store';
import { requireTcp } from '../../testing/services';
import { freePort } from '../../testing/registry/fleet';
import { sharedRedis, startOwnRedis } from './support/redis';

// An hour: Redis windows are aligned to its clock, so a short window could end in the middle of a test.
const LIMITS = { windowMs: 3_600_000, perClientAndUser: 3, perClient: 5 };

function redisStore(url: string, sink: string[] = [], registry = createRegistry(), prefix = `test:${randomUUID()}:`): RedisLimitStore {
  return new RedisLimitStore({ url, prefix, timeoutMs: 250, limits: LIMITS, logger: createLogger({ level: 'debug', sink }), registry });
}


const fail = async (store: LoginLimitStore, client: string, user: string) => (await store.reserve(client, user)).kind;

const implementations: { name: string; make(): LoginLimitStore }[] = [
  { name: 'memory', make: () => new MemoryLimitStore(LIMITS) },
  { name: 'redis', make: () => redisStore(sharedRedis.url) },
];

describe('login limit stores', function () {
  this.timeout(30_000);
  before(() => requireTcp('Redis (.ci/services/65-redis.sh)', `${sharedRedis.host}:${sharedRedis.port}`));

  for (const impl of implementations) {
    describe(`every store: ${impl.name}`, () => {
      let store: LoginLimitStore;
      beforeEach(async () => {
        store = impl.make();
        if (store instanceof RedisLimitStore) await new Promise((r) => setTimeout(r, 200));
      });
      afterEach(() => store.close());

      it('refuses a (client, user) pair after its budget, not other users, and the client after its own budget', async () => {
        for (let i = 0; i < 3; i++) assert.equal(await fail(store, '10.9.0.1', 'alice'), 'reserved');
        const over = await store.reserve('10.9.0.1', 'alice');
        assert.equal(over.kind, 'over');
        assert.ok(over.kind === 'over' && over.retryAfterMs > 0 && over.retryAfterMs <= LIMITS.windowMs, 'waits until the window ends');
        assert.equal(await fail(store, '10.9.0.2', 'alice'), 'reserved');
        assert.equal(await fail(store, '10.9.0.1', 'bob'), 'reserved');
        assert.equal(await fail(store, '10.9.0.1', 'carol'), 'reserved');
        assert.equal(await fail(store, '10.9.0.1', 'dave'), 'over', 'five attempts from the client');
      });
      it('gives a released reservation back: the pair starts afresh, the client gets one back', async () => {
        const held = await Promise.all(Array.from({ length: 3 }, () => store.reserve('10.9.1.1', 'alice')));
        assert.equal(await fail(store, '10.9.1.1', 'alice'), 'over');
        for (const r of held) if (r.kind === 'reserved') r.release();
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(await fail(store, '10.9.1.1', 'alice'), 'reserved');
      });
      it('lets no concurrent attempt past the budget', async () => {
        const all = await Promise.all(Array.from({ length: 20 }, () => store.reserve('10.9.2.1', 'eve')));
        assert.equal(all.filter((r) => r.kind === 'reserved').length, 3);
      });
    });
  }

  describe('redis: shared by replicas', () => {
    it('three stores (replicas) share one budget: 30 attempts, 3 reserved in total', async () => {
      const prefix = `test:${randomUUID()}:`;
      const stores = [0, 1, 2].map(() => redisStore(sharedRedis.url, [], createRegistry(), prefix));
      await new Promise((r) => setTimeout(r, 300));
      const kinds: string[] = [];
      for (let i = 0; i < 30; i++) kinds.push(await fail(stores[i % 3], '10.9.3.1', 'mallory'));
      await Promise.all(stores.map((s) => s.close()));
      assert.equal(kinds.filter((k) => k === 'reserved').length, 3);
    });
    it('a LoginLimiter over Redis: a success gives the reservation back on every replica', async () => {
      const prefix = `test:${randomUUID()}:`;
      const [a, b] = [0, 1].map(() => new LoginLimiter({ ...LIMITS, maxInFlight: 10 }, redisStore(sharedRedis.url, [], createRegistry(), prefix)));
      await new Promise((r) => setTimeout(r, 300));
      for (let i = 0; i < 2; i++) {
        const x = await a.admit('10.9.4.1', 'trent');
        assert.equal(x.kind, 'admitted');
        if (x.kind === 'admitted') x.ticket.settle(false);
      }
      const ok = await b.admit('10.9.4.1', 'trent');
      assert.equal(ok.kind, 'admitted');
      if (ok.kind === 'admitted') ok.ticket.settle(true);
      await new Promise((r) => setTimeout(r, 50));
      for (let i = 0; i < 3; i++) {
        const x = await a.admit('10.9.4.1', 'trent');
        assert.equal(x.kind, 'admitted', `attempt ${i} after the success`);
        if (x.kind === 'admitted') x.ticket.settle(false);
      }
      assert.equal((await b.admit('10.9.4.1', 'trent')).kind, 'refused');
      await Promise.all([a.close(), b.close()]);
    });
  });

  describe('redis: unreachable', () => {
    it('with no Redis at all: counts locally with the same budgets, says so in the metric and one log line', async () => {
      const port = await freePort();
      const sink: string[] = [];
      const registry = createRegistry();
      const store = redisStore(`redis://127.0.0.1:${port}`, sink, registry);
      const kinds: string[] = [];
      for (let i = 0; i < 5; i++) kinds.push(await fail(store, '10.9.5.1', 'alice'));
      await store.close();
      assert.deepEqual(kinds, ['reserved', 'reserved', 'reserved', 'over', 'over'], 'neither open nor closed: the local budget');
      const metrics = await registry.metrics();
      assert.match(metrics, /^imagegate_registry_login_store_up 0$/m);
      assert.match(metrics, /^imagegate_registry_login_store_fallbacks_total 5$/m);
      assert.equal(sink.filter((l) => l.includes('login limit store unreachable')).length, 1, sink.join('\n'));
    });
    it('Redis stopped mid-way: answers at once from the local store; back to shared when it returns', async () => {
      const redis = await startOwnRedis();
      const sink: string[] = [];
      const registry = createRegistry();
      const store = redisStore(redis.url, sink, registry);
      try {
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(await fail(store, '10.9.6.1', 'alice'), 'reserved');
        assert.match(await registry.metrics(), /^imagegate_registry_login_store_up 1$/m);
        await redis.stop();
        const started = Date.now();
        assert.equal(await fail(store, '10.9.6.1', 'alice'), 'reserved');
        assert.ok(Date.now() - started < 2000, 'answered without waiting for Redis');
        assert.match(await registry.metrics(), /^imagegate_registry_login_store_up 0$/m);
        assert.ok(sink.some((l) => l.includes('login limit store unreachable') && !l.includes('@')), 'one warning, no credentials in it');
        const again = await startOwnRedis(redis.port);
        try {
          for (let i = 0; i < 60 && !/^imagegate_registry_login_store_up 1$/m.test(await registry.metrics()); i++) {
            await new Promise((r) => setTimeout(r, 100));
            await store.reserve('10.9.6.2', `probe-${i}`);
          }
          assert.match(await registry.metrics(), /^imagegate_registry_login_store_up 1$/m);
          assert.ok(sink.some((l) => l.includes('login limits are shared')));
        } finally {
          await again.stop();
        }
      } finally {
        await store.close();
        await redis.stop();
      }
    });
  });
});
