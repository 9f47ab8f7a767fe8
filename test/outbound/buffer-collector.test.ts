import assert from 'node:assert/strict';
import { getHeapStatistics } from 'node:v8';
import { startBufferCollector } from '../../src/outbound/buffer-collector';

const MiB = 1024 * 1024;

/** Drops `total` bytes of fresh buffers, a chunk at a time, as a stream's body would. */
function churn(total: number): void {
  let kept = 0;
  for (let made = 0; made < total; made += 64 * 1024) kept += Buffer.allocUnsafeSlow(64 * 1024).fill(1).length;
  assert.ok(kept >= total);
}

/** Polls `done` every 10 ms for at most `ms`. */
async function within(ms: number, done: () => boolean): Promise<boolean> {
  for (let waited = 0; waited <= ms; waited += 10) {
    if (done()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return done();
}

describe('outbound: buffer collector', () => {
  it('frees dead body buffers long before V8 would (16 MiB of garbage is below its 32 MB trigger)', async () => {
    const collector = startBufferCollector();
    try {
      await new Promise((r) => setTimeout(r, 50));
      const before = getHeapStatistics().external_memory;
      for (let i = 0; i < 16; i++) {
        churn(MiB);
        await new Promise((r) => setImmediate(r));
      }
      const freed = await within(2000, () => getHeapStatistics().external_memory - before < 6 * MiB);
      assert.ok(freed, `external memory still ${((getHeapStatistics().external_memory - before) / MiB).toFixed(1)} MiB above its start`);
    } finally {
      collector.stop();
    }
  });
});
