import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import type { Image__Output } from '../../../src/generated/runtime/v1/Image';
import { TestImagegate } from '../../support/cri-server';
import { testImages } from '../../../testing/services';
import { type Conformance, open, rejectsWith } from './context';

/** Bad input, pinned images and health. */
export function inputSpecs(t: Conformance): void {
  describe('bad input', () => {
    const bad = ['', 'BusyBox', `${open('test/busybox')}@sha256:abc`, `${open('test/')}${'a'.repeat(10_000)}`, 'sha256:xyz', 'a b', ':tag'];

    for (const image of bad) {
      const label = image.length > 40 ? `${image.slice(0, 30)}… (${image.length} characters)` : JSON.stringify(image);
      it(`answers ${label} with INVALID_ARGUMENT on every RPC, then keeps serving`, async () => {
        await rejectsWith(t.status(image), status.INVALID_ARGUMENT);
        await rejectsWith(t.pull(image), status.INVALID_ARGUMENT);
        await rejectsWith(t.remove(image), status.INVALID_ARGUMENT);
        await t.gate.call('ImageFsInfo', {});
      });
    }

    it('answers an unknown image ID with an empty status', async () => {
      assert.equal((await t.status(`sha256:${'f'.repeat(64)}`)).image, null);
    });
  });

  describe('pinned images and health', () => {
    it('marks configured pinned images, and only them', async () => {
      const pinned = await TestImagegate.start(await t.createBackend(), { pinnedImages: [open(testImages.busybox)] });
      try {
        await pinned.call('PullImage', { image: { image: open(testImages.busybox) } });
        await pinned.call('PullImage', { image: { image: open(testImages.userUid) } });
        assert.equal((await pinned.call('ImageStatus', { image: { image: open(testImages.busybox) } })).image.pinned, true);
        assert.equal((await pinned.call('ImageStatus', { image: { image: open(testImages.userUid) } })).image.pinned, false);
        const listed = (await pinned.call('ListImages', {})).images as Image__Output[];
        assert.equal(listed.find((image) => image.repoTags.includes(open(testImages.busybox)))?.pinned, true);
      } finally {
        await pinned.stop();
      }
    });

    it('answers grpc.health.v1 Check with SERVING', async () => {
      for (const service of ['', 'runtime.v1.ImageService']) {
        const answer = await new Promise<{ status: string }>((resolve, reject) =>
          t.gate.health.Check({ service }, (err, res) => (err ? reject(err) : resolve(res as { status: string }))),
        );
        assert.equal(answer.status, 'SERVING');
      }
    });
  });
}
