/**
 * The bcrypt worker pool behind issue 19, item 2: right answers, and the event
 * loop keeps ticking while passwords are checked.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import bcrypt from 'bcryptjs';
import { HashPool } from '../../../src/registry/auth/hash-pool';

describe('registry hardening: bcrypt off the event loop (issue 19, item 2)', function () {
  this.timeout(120_000);
  const pool = new HashPool(1);
  after(() => pool.close());

  it('checks and makes bcrypt hashes (bcryptjs compatible, $2y$ too via the authenticators)', async () => {
    const hash = bcrypt.hashSync('right', 8);
    assert.equal(await pool.compare('right', hash), true);
    assert.equal(await pool.compare('wrong', hash), false);
    const made = await pool.hash('pw', 6);
    assert.equal(bcrypt.compareSync('pw', made), true);
  });

  it('leaves the event loop idle while 20 cost-10 checks run (event-loop utilisation, not wall time)', async () => {
    const hash = bcrypt.hashSync('right', 10);
    const start = performance.eventLoopUtilization();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.compare(i === 7 ? 'right' : `guess-${i}`, hash)));
    const elu = performance.eventLoopUtilization(start);
    assert.deepEqual(results.map((r, i) => (r ? i : -1)).filter((i) => i >= 0), [7]);
    assert.ok(elu.utilization < 0.2, `the event loop was busy ${(elu.utilization * 100).toFixed(0)} % of ${elu.idle + elu.active} ms`);
  });
});
