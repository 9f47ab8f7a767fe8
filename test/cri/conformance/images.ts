import { existsSync } from 'node:fs';
import assert from 'node:assert/strict';
import type { Image__Output } from '../../../src/generated/runtime/v1/Image';
import { testImages } from '../../../testing/services';
import { type Conformance, authed, kubeletPassword, open } from './context';

/** Images: ImageFsInfo, PullImage and ImageStatus. */
export function imageSpecs(t: Conformance): void {
  describe('ImageFsInfo', () => {
    it('reports an existing host mountpoint, bytes and inodes used and a timestamp in ns', async () => {
      const info = await t.call('ImageFsInfo', {});
      assert.ok(info.imageFilesystems.length >= 1);
      // container_filesystems (CRI 1.29) is optional: containerd 1.6 leaves it empty.
      for (const fs of [info.imageFilesystems, info.containerFilesystems].filter((f) => f.length > 0)) {
        assert.ok(existsSync(fs[0].fsId.mountpoint), `mountpoint ${fs[0].fsId.mountpoint} exists`);
        assert.ok(BigInt(fs[0].timestamp) > 1_000_000_000_000_000_000n, 'timestamp in nanoseconds');
        assert.ok(fs[0].usedBytes && BigInt(fs[0].usedBytes.value) >= 0n);
        assert.ok(fs[0].inodesUsed && BigInt(fs[0].inodesUsed.value) >= 0n);
      }
    });
  });

  describe('PullImage and ImageStatus', () => {
    it('returns image_ref equal to Image.id, and an identical Image by ID, tag and digest', async () => {
      const imageRef = await t.pull(open(testImages.busybox));
      const byTag = (await t.status(open(testImages.busybox))).image as Image__Output;
      assert.equal(byTag.id, imageRef);
      assert.match(byTag.id, /^sha256:[0-9a-f]{64}$/);
      assert.ok(BigInt(byTag.size) > 0n);
      assert.ok(byTag.repoTags.includes(open(testImages.busybox)));
      const digest = byTag.repoDigests.find((d) => d.startsWith(`${open('test/busybox')}@sha256:`));
      assert.ok(digest, `a repo digest of ${open('test/busybox')}: ${byTag.repoDigests}`);
      assert.deepEqual((await t.status(imageRef)).image, byTag);
      assert.deepEqual((await t.status(imageRef.slice('sha256:'.length))).image, byTag);
      assert.deepEqual((await t.status(digest)).image, byTag);
      for (const tag of byTag.repoTags) assert.deepEqual((await t.status(tag)).image, byTag);
    });

    it('pulls by digest', async () => {
      const byTag = (await t.status(open(testImages.busybox))).image as Image__Output;
      const digest = byTag.repoDigests.find((d) => d.startsWith(`${open('test/busybox')}@`))!;
      assert.equal(await t.pull(digest), byTag.id);
      assert.ok(((await t.status(digest)).image as Image__Output).repoDigests.includes(digest));
    });

    it('treats a name without tag as :latest', async () => {
      const imageRef = await t.pull(open(testImages.tagless));
      const image = (await t.status(open(testImages.tagless))).image as Image__Output;
      assert.equal(image.id, imageRef);
      assert.ok(image.repoTags.includes(`${open(testImages.tagless)}:latest`), String(image.repoTags));
      assert.deepEqual((await t.status(`${open(testImages.tagless)}:latest`)).image, image);
    });

    it('shows three tags of one image as one ID with all three tags', async () => {
      const refs = await Promise.all(testImages.multi.map((tag) => t.pull(open(tag))));
      assert.equal(new Set(refs).size, 1);
      const image = (await t.status(open(testImages.multi[0]))).image as Image__Output;
      for (const tag of testImages.multi) assert.ok(image.repoTags.includes(open(tag)), `${open(tag)} in ${image.repoTags}`);
    });

    it('gives one image pulled from two registries one ID', async () => {
      const a = await t.pull(open(testImages.busybox));
      const b = await t.pull(authed(testImages.busybox), kubeletPassword);
      assert.equal(a, b);
    });

    it('reports uid, username and user:group from the image config', async () => {
      await t.pull(open(testImages.userUid));
      await t.pull(open(testImages.userName));
      await t.pull(open(testImages.userUidGroup));
      const uid = (await t.status(open(testImages.userUid))).image as Image__Output;
      assert.equal(uid.uid?.value, '1002');
      assert.equal(uid.username, '');
      const named = (await t.status(open(testImages.userName))).image as Image__Output;
      assert.equal(named.username, 'www-data');
      assert.ok(!named.uid || named.uid.value === '0' || named.uid === null);
      assert.equal(((await t.status(open(testImages.userUidGroup))).image as Image__Output).uid?.value, '1003');
    });

    it('fills info only when verbose', async () => {
      await t.pull(open(testImages.busybox));
      const quiet = await t.status(open(testImages.busybox));
      assert.deepEqual(quiet.info, {});
      const verbose = await t.status(open(testImages.busybox), true);
      assert.ok(Object.keys(verbose.info).length > 0);
      for (const value of Object.values(verbose.info)) JSON.parse(value as string);
    });

    it('answers an absent image with an empty status, not an error', async () => {
      assert.equal((await t.status(open('test/never-pushed:1'))).image, null);
      assert.equal((await t.status(`sha256:${'0'.repeat(64)}`)).image, null);
    });
  });
}
