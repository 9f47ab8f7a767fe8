import assert from 'node:assert/strict';
import type { Image__Output } from '../../../src/generated/runtime/v1/Image';
import { testImages } from '../../../testing/services';
import { type Conformance, open, ours } from './context';

/** RemoveImage, ListImages and (unless `streaming` is false) StreamImages. */
export function removeListSpecs(t: Conformance, { streaming = true } = {}): void {
  describe('RemoveImage', () => {
    it('removes by one tag every tag and digest of the image', async () => {
      const [one, two] = testImages.remove.map(open);
      const id = await t.pull(one);
      assert.equal(await t.pull(two), id);
      await t.remove(one);
      assert.equal((await t.status(two)).image, null);
      assert.equal((await t.status(id)).image, null);
      assert.ok(!(await t.list()).some((image) => image.id === id));
    });

    it('removes by ID, and removing twice or removing an absent image succeeds', async () => {
      const id = await t.pull(open(testImages.remove[0]));
      await t.remove(id);
      await t.remove(id);
      await t.remove(`sha256:${'1'.repeat(64)}`);
      await t.remove('1'.repeat(64));
      await t.remove(open('test/never-pushed:1'));
      assert.equal((await t.status(id)).image, null);
    });

    it('lets five concurrent removes of one image all succeed', async () => {
      const id = await t.pull(open(testImages.remove[0]));
      await Promise.all(Array.from({ length: 5 }, () => t.remove(id)));
      assert.equal((await t.status(id)).image, null);
    });

    it('shows a pulled image at once and a removed one never again', async () => {
      const id = await t.pull(open(testImages.remove[1]));
      assert.ok((await t.list()).some((image) => image.id === id));
      await t.remove(open(testImages.remove[1]));
      assert.ok(!(await t.list()).some((image) => image.id === id));
    });
  });

  describe('ListImages and StreamImages', () => {
    it('lists pulled images with the same fields ImageStatus gives', async () => {
      const id = await t.pull(open(testImages.userUid));
      const listed = (await t.list()).find((image) => image.id === id);
      assert.ok(listed);
      const image = (await t.status(id)).image as Image__Output;
      assert.deepEqual(new Set(listed.repoTags), new Set(image.repoTags));
      assert.equal(listed.size, image.size);
      assert.equal(listed.uid?.value, '1002');
    });

    it('filters by reference', async () => {
      const id = await t.pull(open(testImages.busybox));
      await t.pull(open(testImages.userUid));
      const filtered = await t.list(open(testImages.busybox));
      assert.deepEqual(filtered.map((image) => image.id), [id]);
      assert.deepEqual((await t.list(open('test/never-pushed:1'))).length, 0);
    });

    if (streaming) it('streams the same images as ListImages', async () => {
      await t.pull(open(testImages.busybox));
      const listed = new Set((await t.list()).filter(ours).map((image) => image.id));
      const streamed = new Set<string>();
      await new Promise<void>((resolve, reject) => {
        const stream = t.gate.client.StreamImages({});
        stream.on('data', (chunk: { images: Image__Output[] }) => chunk.images.filter(ours).forEach((image) => streamed.add(image.id)));
        stream.on('error', reject);
        stream.on('end', resolve);
      });
      assert.deepEqual(streamed, listed);
    });
  });
}
