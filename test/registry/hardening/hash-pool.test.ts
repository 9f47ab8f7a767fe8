/**
 * The bcrypt worker pool behind issue 19, item 2: right answers, and the event
 * loop keeps ticking while passwords are checked.
 */
import assert from 'node:assert/strict';
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

  it('keeps the event loop free while 20 cost-10 checks queue (no tick later than 50 ms)', async () => {
    const hash = bcrypt.hashSync('right', 10);
    let last = Date.now();
    let worst = 0;
    const ticker = setInterval(() => {
      worst = Math.max(worst, Date.now() - last);
      last = Date.now();
    }, 5);
    try {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.compare(i === 7 ? 'right' : `guess-${i}`, hash)));
      assert.deepEqual(results.map((r, i) => (r ? i : -1)).filter((i) => i >= 0), [7]);
    } finally {
      clearInterval(ticker);
    }
    assert.ok(worst < 50, `the event loop stalled ${worst} ms`);
  });
});
