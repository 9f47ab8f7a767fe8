/**
 * The bcrypt worker pool behind issue 19, item 2: right answers, and the event
 * loop keeps ticking while passwords are checked.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import bcrypt from 'bcryptjs';
import { HashPool } from '../../../src/registry/auth/hash-pool';

/** Scheduling policy of a thread of this process (stat field 41: 0 normal, 5 SCHED_IDLE). */
function policy(tid: number | string): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]);
}
const threadPolicies = () => readdirSync('/proc/self/task').map(policy);

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

  it('runs its worker in SCHED_IDLE (the native add-on), so a waking event loop always preempts it', async () => {
    const before = threadPolicies().filter((p) => p === 5).length;
    const own = new HashPool(1);
    try {
      assert.equal(await own.compare('x', bcrypt.hashSync('x', 4)), true);
      const policies = threadPolicies();
      assert.equal(policies.filter((p) => p === 5).length, before + 1, `thread policies: ${policies.join(' ')}`);
      assert.equal(policy(process.pid), 0, 'the main thread stays SCHED_OTHER');
    } finally {
      await own.close();
    }
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
