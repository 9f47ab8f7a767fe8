/**
 * The behaviour every image backend must show through imagegate, run once per
 * backend: `describeConformance('docker', () => new DockerBackend(...))`.
 * Each suite binds a real imagegate server on a temporary Unix socket with the
 * backend and talks to it through a real gRPC client. Only images from CI's
 * loopback registries are used (test/support/services.ts), and every assertion
 * holds for any correct CRI image service.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { status } from '@grpc/grpc-js';
import type { ImageBackend } from '../../src/cri/image-backend';
import type { Image__Output } from '../../src/generated/runtime/v1/Image';
import { manifestRequests } from '../support/cri-registry-log';
import { ThrottledRelay, failingRegistry, freeRelayPort } from '../support/cri-relay';
import { TestImagegate } from '../support/cri-server';
import { requireTcp, services, testImages } from '../support/services';

export type BackendFactory = () => ImageBackend | Promise<ImageBackend>;

const open = (name: string) => `${services.registryOpen}/${name}`;
const authed = (name: string) => `${services.registryHtpasswd}/${name}`;
const kubeletPassword = { username: services.htpasswdUser, password: services.htpasswdPassword };
const kubeletAuthForm = { auth: Buffer.from(`${services.htpasswdUser}:${services.htpasswdPassword}`).toString('base64') };

/** Expects a call to fail with the given gRPC status; returns the error's details. */
export async function rejectsWith(promise: Promise<unknown>, code: status): Promise<string> {
  try {
    await promise;
  } catch (err) {
    const e = err as { code?: number; details?: string };
    assert.equal(e.code, code, `expected ${status[code]}, got ${status[e.code ?? -1]}: ${e.details}`);
    return e.details ?? '';
  }
  assert.fail(`expected ${status[code]}, but the call succeeded`);
}

/** Registers the shared behaviour suite for one backend. */
export function describeConformance(name: string, createBackend: BackendFactory): void {
  describe(`CRI image service conformance: ${name} backend`, function () {
    this.timeout(120_000);
    let gate: TestImagegate;

    const status_ = async (image: string, verbose = false) => gate.call('ImageStatus', { image: { image }, verbose });
    const pull = async (image: string, auth?: object, timeoutMs?: number, signal?: AbortSignal) =>
      (await gate.call('PullImage', { image: { image }, auth }, { timeoutMs, signal })).imageRef as string;
    const remove = (image: string) => gate.call('RemoveImage', { image: { image } });
    const list = async (filter?: string) => (await gate.call('ListImages', filter ? { filter: { image: { image: filter } } } : {})).images as Image__Output[];
    /** Removes every copy of `name` (any registry, relays included), so that a pull of it must download. */
    const removeEverywhere = async (name: string) => {
      for (const image of await list()) {
        if ([...image.repoTags, ...image.repoDigests].some((n) => n.endsWith(`/${name}`) || n.includes(`/${name.split(':')[0]}@`))) await remove(image.id);
      }
    };

    before(async () => {
      await requireTcp('docker-registry (open)', services.registryOpen);
      await requireTcp('docker-registry (htpasswd)', services.registryHtpasswd);
      gate = await TestImagegate.start(await createBackend());
    });
    after(async () => {
      await gate?.stop();
    });

    describe('ImageFsInfo', () => {
      it('reports an existing host mountpoint, bytes and inodes used and a timestamp in ns', async () => {
        const info = await gate.call('ImageFsInfo', {});
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
        const imageRef = await pull(open(testImages.busybox));
        const byTag = (await status_(open(testImages.busybox))).image as Image__Output;
        assert.equal(byTag.id, imageRef);
        assert.match(byTag.id, /^sha256:[0-9a-f]{64}$/);
        assert.ok(BigInt(byTag.size) > 0n);
        assert.ok(byTag.repoTags.includes(open(testImages.busybox)));
        const digest = byTag.repoDigests.find((d) => d.startsWith(`${open('test/busybox')}@sha256:`));
        assert.ok(digest, `a repo digest of ${open('test/busybox')}: ${byTag.repoDigests}`);
        assert.deepEqual((await status_(imageRef)).image, byTag);
        assert.deepEqual((await status_(imageRef.slice('sha256:'.length))).image, byTag);
        assert.deepEqual((await status_(digest)).image, byTag);
        for (const tag of byTag.repoTags) assert.deepEqual((await status_(tag)).image, byTag);
      });

      it('pulls by digest', async () => {
        const byTag = (await status_(open(testImages.busybox))).image as Image__Output;
        const digest = byTag.repoDigests.find((d) => d.startsWith(`${open('test/busybox')}@`))!;
        assert.equal(await pull(digest), byTag.id);
        assert.ok(((await status_(digest)).image as Image__Output).repoDigests.includes(digest));
      });

      it('treats a name without tag as :latest', async () => {
        const imageRef = await pull(open(testImages.tagless));
        const image = (await status_(open(testImages.tagless))).image as Image__Output;
        assert.equal(image.id, imageRef);
        assert.ok(image.repoTags.includes(`${open(testImages.tagless)}:latest`), String(image.repoTags));
        assert.deepEqual((await status_(`${open(testImages.tagless)}:latest`)).image, image);
      });

      it('shows three tags of one image as one ID with all three tags', async () => {
        const refs = await Promise.all(testImages.multi.map((tag) => pull(open(tag))));
        assert.equal(new Set(refs).size, 1);
        const image = (await status_(open(testImages.multi[0]))).image as Image__Output;
        for (const tag of testImages.multi) assert.ok(image.repoTags.includes(open(tag)), `${open(tag)} in ${image.repoTags}`);
      });

      it('gives one image pulled from two registries one ID', async () => {
        const a = await pull(open(testImages.busybox));
        const b = await pull(authed(testImages.busybox), kubeletPassword);
        assert.equal(a, b);
      });

      it('reports uid, username and user:group from the image config', async () => {
        await pull(open(testImages.userUid));
        await pull(open(testImages.userName));
        await pull(open(testImages.userUidGroup));
        const uid = (await status_(open(testImages.userUid))).image as Image__Output;
        assert.equal(uid.uid?.value, '1002');
        assert.equal(uid.username, '');
        const named = (await status_(open(testImages.userName))).image as Image__Output;
        assert.equal(named.username, 'www-data');
        assert.ok(!named.uid || named.uid.value === '0' || named.uid === null);
        assert.equal(((await status_(open(testImages.userUidGroup))).image as Image__Output).uid?.value, '1003');
      });

      it('fills info only when verbose', async () => {
        await pull(open(testImages.busybox));
        const quiet = await status_(open(testImages.busybox));
        assert.deepEqual(quiet.info, {});
        const verbose = await status_(open(testImages.busybox), true);
        assert.ok(Object.keys(verbose.info).length > 0);
        for (const value of Object.values(verbose.info)) JSON.parse(value as string);
      });

      it('answers an absent image with an empty status, not an error', async () => {
        assert.equal((await status_(open('test/never-pushed:1'))).image, null);
        assert.equal((await status_(`sha256:${'0'.repeat(64)}`)).image, null);
      });
    });

    describe('registry credentials', () => {
      it('pulls from the htpasswd registry with kubelet AuthConfig username/password', async () => {
        const imageRef = await pull(authed(testImages.auth), kubeletPassword);
        assert.equal(((await status_(authed(testImages.auth))).image as Image__Output).id, imageRef);
      });

      it('pulls from the htpasswd registry with kubelet AuthConfig auth (base64 user:password)', async () => {
        const imageRef = await pull(authed(testImages.auth), kubeletAuthForm);
        assert.equal(((await status_(authed(testImages.auth))).image as Image__Output).id, imageRef);
      });

      it('fails without credentials with a message that says so and names the registry', async () => {
        const details = await pull(authed(testImages.auth)).then(
          () => assert.fail('pull without credentials succeeded'),
          (err: { details: string }) => err.details,
        );
        assert.match(details, /credential|unauthori[sz]ed|authentication/i);
        assert.ok(details.includes(services.registryHtpasswd), details);
      });

      it('fails with wrong credentials the same way', async () => {
        const details = await pull(authed(testImages.auth), { username: 'kubelet', password: 'wrong' }).then(
          () => assert.fail('pull with a wrong password succeeded'),
          (err: { details: string }) => err.details,
        );
        assert.match(details, /credential|unauthori[sz]ed|authentication/i);
        assert.ok(details.includes(services.registryHtpasswd), details);
      });

      it('never writes the password or the auth form to its log', async () => {
        await pull(authed(testImages.auth), kubeletPassword);
        await pull(authed(testImages.auth), kubeletAuthForm);
        const text = gate.logs.join('\n');
        assert.ok(gate.logs.length > 0);
        assert.ok(!text.includes(services.htpasswdPassword));
        assert.ok(!text.includes(kubeletAuthForm.auth));
      });
    });

    describe('concurrency, deadlines and failures', () => {
      it('shares two concurrent pulls of one image: one pull reaches the registry', async () => {
        const image = open(testImages.concurrent);
        const [repository, tag] = testImages.concurrent.split(':');
        const count = () => manifestRequests(services.registryOpenLog, repository, tag);
        const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
        await remove(image);
        let before = count();
        await pull(image);
        await settle();
        const single = count() - before;
        assert.ok(single >= 1, 'a pull shows in the registry log');
        await remove(image);
        before = count();
        const [a, b] = await Promise.all([pull(image), pull(image)]);
        await settle();
        assert.equal(a, b);
        assert.equal(count() - before, single, 'two concurrent pulls cost the registry what one pull does');
      });

      it('aborts a slow pull when the client deadline passes (DEADLINE_EXCEEDED) and leaves no image', async () => {
        const relay = await ThrottledRelay.start(services.registryOpen, { bytesPerSecond: 128 * 1024 });
        try {
          await removeEverywhere(testImages.large);
          const image = `${relay.host}/${testImages.large}`;
          await rejectsWith(pull(image, undefined, 1500), status.DEADLINE_EXCEEDED);
          await waitFor(() => relay.downloading === 0, 30_000, 'the backend pull to stop downloading');
          assert.equal((await status_(image)).image, null);
        } finally {
          await relay.close();
        }
      });

      it('aborts a slow pull when the client cancels (CANCELLED)', async () => {
        const relay = await ThrottledRelay.start(services.registryOpen, { bytesPerSecond: 128 * 1024 });
        try {
          await removeEverywhere(testImages.large);
          const controller = new AbortController();
          setTimeout(() => controller.abort(), 1000);
          await rejectsWith(pull(`${relay.host}/${testImages.large}`, undefined, undefined, controller.signal), status.CANCELLED);
          await waitFor(() => relay.downloading === 0, 30_000, 'the backend pull to stop downloading');
        } finally {
          await relay.close();
        }
      });

      it('says RegistryUnavailable when the registry is unreachable', async () => {
        const port = await freeRelayPort();
        const details = await pull(`127.0.0.1:${port}/${testImages.busybox}`).then(
          () => assert.fail('pull from a closed port succeeded'),
          (err: { details: string }) => err.details,
        );
        assert.match(details, /^RegistryUnavailable/);
      });

      it('says RegistryUnavailable when the registry answers 503', async () => {
        const registry = await failingRegistry();
        try {
          const details = await pull(`${registry.host}/${testImages.busybox}`).then(
            () => assert.fail('pull from a 503 registry succeeded'),
            (err: { details: string }) => err.details,
          );
          assert.match(details, /^RegistryUnavailable/);
        } finally {
          await registry.close();
        }
      });
    });

    describe('RemoveImage', () => {
      it('removes by one tag every tag and digest of the image', async () => {
        const [one, two] = testImages.remove.map(open);
        const id = await pull(one);
        assert.equal(await pull(two), id);
        await remove(one);
        assert.equal((await status_(two)).image, null);
        assert.equal((await status_(id)).image, null);
        assert.ok(!(await list()).some((image) => image.id === id));
      });

      it('removes by ID, and removing twice or removing an absent image succeeds', async () => {
        const id = await pull(open(testImages.remove[0]));
        await remove(id);
        await remove(id);
        await remove(`sha256:${'1'.repeat(64)}`);
        await remove('1'.repeat(64));
        await remove(open('test/never-pushed:1'));
        assert.equal((await status_(id)).image, null);
      });

      it('lets five concurrent removes of one image all succeed', async () => {
        const id = await pull(open(testImages.remove[0]));
        await Promise.all(Array.from({ length: 5 }, () => remove(id)));
        assert.equal((await status_(id)).image, null);
      });

      it('shows a pulled image at once and a removed one never again', async () => {
        const id = await pull(open(testImages.remove[1]));
        assert.ok((await list()).some((image) => image.id === id));
        await remove(open(testImages.remove[1]));
        assert.ok(!(await list()).some((image) => image.id === id));
      });
    });

    describe('ListImages and StreamImages', () => {
      it('lists pulled images with the same fields ImageStatus gives', async () => {
        const id = await pull(open(testImages.userUid));
        const listed = (await list()).find((image) => image.id === id);
        assert.ok(listed);
        const image = (await status_(id)).image as Image__Output;
        assert.deepEqual(new Set(listed.repoTags), new Set(image.repoTags));
        assert.equal(listed.size, image.size);
        assert.equal(listed.uid?.value, '1002');
      });

      it('filters by reference', async () => {
        const id = await pull(open(testImages.busybox));
        await pull(open(testImages.userUid));
        const filtered = await list(open(testImages.busybox));
        assert.deepEqual(filtered.map((image) => image.id), [id]);
        assert.deepEqual((await list(open('test/never-pushed:1'))).length, 0);
      });

      it('streams the same images as ListImages', async () => {
        await pull(open(testImages.busybox));
        const listed = new Set((await list()).filter(ours).map((image) => image.id));
        const streamed = new Set<string>();
        await new Promise<void>((resolve, reject) => {
          const stream = gate.client.StreamImages({});
          stream.on('data', (chunk: { images: Image__Output[] }) => chunk.images.filter(ours).forEach((image) => streamed.add(image.id)));
          stream.on('error', reject);
          stream.on('end', resolve);
        });
        assert.deepEqual(streamed, listed);
      });
    });

    describe('bad input', () => {
      const bad = ['', 'BusyBox', `${open('test/busybox')}@sha256:abc`, `${open('test/')}${'a'.repeat(10_000)}`, 'sha256:xyz', 'a b', ':tag'];

      for (const image of bad) {
        const label = image.length > 40 ? `${image.slice(0, 30)}… (${image.length} characters)` : JSON.stringify(image);
        it(`answers ${label} with INVALID_ARGUMENT on every RPC, then keeps serving`, async () => {
          await rejectsWith(status_(image), status.INVALID_ARGUMENT);
          await rejectsWith(pull(image), status.INVALID_ARGUMENT);
          await rejectsWith(remove(image), status.INVALID_ARGUMENT);
          await gate.call('ImageFsInfo', {});
        });
      }

      it('answers an unknown image ID with an empty status', async () => {
        assert.equal((await status_(`sha256:${'f'.repeat(64)}`)).image, null);
      });
    });

    describe('pinned images and health', () => {
      it('marks configured pinned images, and only them', async () => {
        const pinned = await TestImagegate.start(await createBackend(), { pinnedImages: [open(testImages.busybox)] });
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
            gate.health.Check({ service }, (err, res) => (err ? reject(err) : resolve(res as { status: string }))),
          );
          assert.equal(answer.status, 'SERVING');
        }
      });
    });
  });
}

function ours(image: Image__Output): boolean {
  return [...image.repoTags, ...image.repoDigests].some((name) => /^127\.0\.0\.1:500[01]\/test\//.test(name));
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
