import assert from 'node:assert/strict';
import { getHeapStatistics } from 'node:v8';
import { BufferCollector, LONG_BODY_BYTES } from '../../src/outbound/buffer-collector';

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

/** Drops `total` bytes of fresh buffers a chunk at a time, as a stream's body would, counting each chunk. */
function churn(total: number, count: (bytes: number) => void): void {
  for (let made = 0; made < total; made += CHUNK) count(Buffer.allocUnsafeSlow(CHUNK).fill(1).length);
}

describe('outbound: buffer collector', () => {
  it('frees a long body\'s dead buffers long before V8 would (16 MiB of garbage is below its 32 MB trigger)', async () => {
    const collector = new BufferCollector();
    const before = getHeapStatistics().external_memory;
    const count = collector.body();
    for (let i = 0; i < 16; i++) {
      churn(MiB, count);
      await new Promise((r) => setImmediate(r));
    }
    // 15 MiB past the body's free first MiB, one collection per 2 MiB.
    assert.equal(collector.collections, 7);
    const held = getHeapStatistics().external_memory - before;
    assert.ok(held < 6 * MiB, `external memory still ${(held / MiB).toFixed(1)} MiB above its start`);
  });

  it('leaves short bodies to V8: 64 bodies of 512 KiB force no collection', () => {
    const collector = new BufferCollector();
    for (let i = 0; i < 64; i++) churn(LONG_BODY_BYTES / 2, collector.body());
    assert.equal(collector.collections, 0);
  });

  it('counts every byte of a joined connection when told no bytes are free', () => {
    const collector = new BufferCollector();
    churn(4 * MiB, collector.body(0));
    assert.equal(collector.collections, 2);
  });
});
