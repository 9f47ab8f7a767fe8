import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPullCredentials, credentialsSchema, type Precedence, type PullCredentials } from '../../src/credentials';
import { CriTestClient, ForwardingImagegate } from '../support/containerd';
import { requireTcp, requireUnixSocket, services, testImages } from '../../testing/services';

const open = (name: string) => `${services.registryOpen}/${name}`;
const locked = (name: string) => `${services.registryHtpasswd}/${name}`;

/**
 * imagegate's real credential rules: one `static` rule for the htpasswd
 * registry, reading a Docker config file that holds `username:password`.
 */
function staticRule(dir: string, username: string, password: string, precedence: Precedence): PullCredentials {
  const file = join(dir, `${username}-${password}.json`);
  const auth = Buffer.from(`${username}:${password}`).toString('base64');
  writeFileSync(file, JSON.stringify({ auths: { [services.registryHtpasswd]: { auth } } }));
  const config = credentialsSchema().parse({
    rules: [{ name: 'htpasswd-static', match: { registry: services.registryHtpasswd }, provider: 'static', with: { file }, precedence }],
  });
  return buildPullCredentials(config);
}

describe('cri backend against a real containerd', function () {
  let gate: ForwardingImagegate;
  let direct: CriTestClient;

  before(async () => {
    await requireUnixSocket('containerd (CRI)', services.containerdSocket);
    await requireTcp('open registry', services.registryOpen);
    await requireTcp('htpasswd registry', services.registryHtpasswd);
    gate = await ForwardingImagegate.start(`unix://${services.containerdSocket}`);
    direct = new CriTestClient(`unix://${services.containerdSocket}`);
  });

  after(async () => {
    direct?.close();
    await gate?.stop();
  });

  const forget = async (image: string) => direct.call('removeImage', { image: { image } });

  it('pulls, shows, lists and removes an image in containerd’s own store', async () => {
    const image = open(testImages.busybox);
    await forget(image);

    const { imageRef } = await gate.client.call('pullImage', { image: { image }, sandboxConfig: { metadata: { name: 'p', namespace: 'ns' } } });
    const status = await gate.client.call('imageStatus', { image: { image } });
    assert.equal(status.image?.id, imageRef, 'image_ref equals Image.id');
    assert.ok(status.image.repoTags.includes(image));
    assert.ok(Number(status.image.size) > 0);
    assert.equal((await direct.call('imageStatus', { image: { image } })).image?.id, imageRef, 'containerd itself has it');

    const all = await gate.client.call('listImages', {});
    assert.ok(all.images.some((i) => i.id === imageRef));
    const filtered = await gate.client.call('listImages', { filter: { image: { image } } });
    assert.deepEqual(filtered.images.map((i) => i.id), [imageRef]);

    await gate.client.call('removeImage', { image: { image: imageRef } });
    assert.equal((await gate.client.call('imageStatus', { image: { image } })).image, null);
    assert.equal((await direct.call('imageStatus', { image: { image } })).image, null);
    await gate.client.call('removeImage', { image: { image: imageRef } });
  });

  it('answers image_ref = Image.id for a pull by digest, and status by ID, tag and digest agree', async () => {
    const image = open(testImages.userUid);
    await forget(image);
    const byTag = await gate.client.call('pullImage', { image: { image } });
    const digestRef = (await gate.client.call('imageStatus', { image: { image } })).image!.repoDigests[0];
    const byDigest = await gate.client.call('pullImage', { image: { image: digestRef } });
    assert.equal(byDigest.imageRef, byTag.imageRef);
    for (const name of [byTag.imageRef, image, digestRef]) {
      const status = await gate.client.call('imageStatus', { image: { image: name } });
      assert.equal(status.image?.id, byTag.imageRef, name);
      assert.equal(status.image?.uid?.value, '1002', name);
    }
  });

  it('answers an empty status, not an error, for an absent image', async () => {
    const status = await gate.client.call('imageStatus', { image: { image: open('test/never-pushed:1') } });
    assert.equal(status.image, null);
  });

  it('returns containerd’s verbose info only when asked', async () => {
    const image = open(testImages.busybox);
    await gate.client.call('pullImage', { image: { image } });
    assert.deepEqual((await gate.client.call('imageStatus', { image: { image } })).info, {});
    const verbose = await gate.client.call('imageStatus', { image: { image }, verbose: true });
    assert.match(verbose.info.info ?? '', /imageSpec/);
  });

  it('answers ImageFsInfo with containerd’s image filesystem', async () => {
    const info = await gate.client.call('imageFsInfo', {});
    assert.equal(info.imageFilesystems.length, 1);
    const fs = info.imageFilesystems[0];
    assert.ok(BigInt(fs.timestamp) > 0n);
    assert.match(fs.fsId?.mountpoint ?? '', /^\//);
    const own = (await direct.call('imageFsInfo', {})).imageFilesystems[0];
    assert.equal(fs.fsId?.mountpoint, own.fsId?.mountpoint);
  });

  it('passes containerd’s NOT_FOUND for a missing image with containerd’s message', async () => {
    const err = await gate.client.call('pullImage', { image: { image: open('test/never-pushed:1') } }).catch((e: grpc.ServiceError) => e);
    assert.equal((err as grpc.ServiceError).code, grpc.status.NOT_FOUND);
    assert.match((err as grpc.ServiceError).details, /never-pushed:1.*not found/);
  });

  describe('with a static credentials rule for the htpasswd registry', () => {
    let minted: ForwardingImagegate;
    let wrong: ForwardingImagegate;
    const image = locked(testImages.auth);
    const dir = mkdtempSync(join(tmpdir(), 'imagegate-static-'));

    before(async () => {
      minted = await ForwardingImagegate.start(`unix://${services.containerdSocket}`, {
        credentials: staticRule(dir, services.htpasswdUser, services.htpasswdPassword, 'minted-first'),
      });
      wrong = await ForwardingImagegate.start(`unix://${services.containerdSocket}`, {
        credentials: staticRule(dir, services.htpasswdUser, 'not-the-password', 'minted-only'),
      });
    });
    after(async () => {
      await minted?.stop();
      await wrong?.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    beforeEach(() => forget(image));

    it('containerd alone cannot pull it without credentials', async () => {
      const err = await direct.call('pullImage', { image: { image } }).catch((e: grpc.ServiceError) => e);
      assert.match((err as grpc.ServiceError).details, /401 Unauthorized/);
    });

    it('pulls it with the minted credentials while kubelet sends none', async () => {
      const { imageRef } = await minted.client.call('pullImage', { image: { image }, sandboxConfig: { metadata: { namespace: 'team-a' } } });
      assert.equal((await direct.call('imageStatus', { image: { image } })).image?.id, imageRef);
    });

    it('uses the minted credentials instead of the wrong ones kubelet sent', async () => {
      const auth = { username: services.htpasswdUser, password: 'stale-secret' };
      const { imageRef } = await minted.client.call('pullImage', { image: { image }, auth });
      assert.match(imageRef, /^sha256:[0-9a-f]{64}$/);
    });

    it('fails when a minted-only rule mints credentials the registry rejects, even if kubelet’s were right', async () => {
      const auth = { username: services.htpasswdUser, password: services.htpasswdPassword };
      const err = await wrong.client.call('pullImage', { image: { image }, auth }).catch((e: grpc.ServiceError) => e);
      assert.equal((err as grpc.ServiceError).code, grpc.status.UNAUTHENTICATED);
      assert.match((err as grpc.ServiceError).details, /credentials rejected by registry 127\.0\.0\.1:5001/);
      assert.doesNotMatch((err as grpc.ServiceError).details, /not-the-password|kubelet-s3cret/);
    });
  });
});
