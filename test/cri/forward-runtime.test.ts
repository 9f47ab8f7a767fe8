import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CriTestClient, ForwardingImagegate, eventually } from '../support/containerd';
import { ThrottledRelay, UnixRelay } from '../support/cri-relay';
import { requireTcp, requireUnixSocket, services, testImages } from '../../testing/services';

/** A generous deadline: a call that hangs fails with DEADLINE_EXCEEDED instead of the code under test. */
const generous = () => ({ deadline: Date.now() + 20_000 });

describe('cri backend: when the runtime goes away and comes back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-relay-'));
  const relay = new UnixRelay(join(dir, 'containerd.sock'), services.containerdSocket);
  let gate: ForwardingImagegate;

  before(async () => {
    await requireUnixSocket('containerd (CRI)', services.containerdSocket);
  });
  beforeEach(() => relay.start());
  afterEach(async () => {
    await gate?.stop();
    await relay.stop();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('fails every RPC with UNAVAILABLE naming the endpoint while the runtime is down, and serves again once it is back', async () => {
    gate = await ForwardingImagegate.start(`unix://${relay.path}`);
    await gate.client.call('imageFsInfo', {});

    await relay.stop();
    const calls = [
      gate.client.call('imageFsInfo', {}, generous()),
      gate.client.call('listImages', {}, generous()),
      gate.client.call('imageStatus', { image: { image: 'busybox' } }, generous()),
      gate.client.call('pullImage', { image: { image: `${services.registryOpen}/${testImages.busybox}` } }, generous()),
      gate.client.call('removeImage', { image: { image: 'busybox' } }, generous()),
    ];
    for (const result of await Promise.allSettled(calls)) {
      assert.equal(result.status, 'rejected');
      const err = (result as PromiseRejectedResult).reason as grpc.ServiceError;
      assert.equal(err.code, grpc.status.UNAVAILABLE, err.details);
      assert.ok(err.details.includes(`unix://${relay.path}`), err.details);
    }

    await relay.start();
    const info = await eventually(() => gate.client.call('imageFsInfo', {}, generous()));
    assert.equal(info.imageFilesystems.length, 1);
  });

  it('starts while the runtime is down (it connects lazily) and serves once it is up', async () => {
    await relay.stop();
    gate = await ForwardingImagegate.start(`unix://${relay.path}`);
    const err = await gate.client.call('listImages', {}, generous()).catch((e: grpc.ServiceError) => e);
    assert.equal((err as grpc.ServiceError).code, grpc.status.UNAVAILABLE);
    await relay.start();
    await eventually(() => gate.client.call('listImages', {}, generous()));
  });
});

describe('cri backend: the client’s deadline and cancellation reach the runtime’s pull', () => {
  let registry: ThrottledRelay;
  let gate: ForwardingImagegate;
  let direct: CriTestClient;
  let image: string;

  before(async () => {
    await requireUnixSocket('containerd (CRI)', services.containerdSocket);
    await requireTcp('open registry', services.registryOpen);
    registry = await ThrottledRelay.start(services.registryOpen, { bytesPerSecond: 64 * 1024 });
    image = `${registry.host}/${testImages.large}`;
    gate = await ForwardingImagegate.start(`unix://${services.containerdSocket}`);
    direct = new CriTestClient(`unix://${services.containerdSocket}`);
  });
  beforeEach(() => direct.call('removeImage', { image: { image } }));
  after(async () => {
    direct?.close();
    await gate?.stop();
    await registry?.close();
  });

  /** Waits until containerd has dropped every unfinished download from the slow registry, and kept no image. */
  async function assertDownloadStops(): Promise<void> {
    await eventually(async () => assert.equal(registry.downloading, 0, 'containerd is still downloading'), 60, 250);
    assert.equal((await direct.call('imageStatus', { image: { image } })).image, null);
  }

  it('a deadline passing ends containerd’s download', async () => {
    const accepted = registry.accepted;
    const err = await gate.client.call('pullImage', { image: { image } }, { deadline: Date.now() + 2500 }).catch((e: grpc.ServiceError) => e);
    assert.equal((err as grpc.ServiceError).code, grpc.status.DEADLINE_EXCEEDED);
    assert.ok(registry.accepted > accepted, 'the pull had reached the registry');
    await assertDownloadStops();
  });

  it('a client cancelling ends containerd’s download', async () => {
    const call = gate.client.raw.pullImage({ image: { image } }, () => undefined);
    await eventually(async () => assert.ok(registry.downloading > 0, 'download under way'), 40, 250);
    call.cancel();
    await assertDownloadStops();
  });
});
