import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { CriTestClient, ForwardingImagegate, eventually } from '../support/containerd';
import { ThrottledTcpRelay, UnixRelay } from '../support/containerd-relay';
import { requireTcp, requireUnixSocket, services, testImages } from '../support/services';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A generous deadline: a call that hangs fails with DEADLINE_EXCEEDED instead of the code under test. */
const generous = () => ({ deadline: Date.now() + 20_000 });

describe('cri backend: when the runtime goes away and comes back', () => {
  let relay: UnixRelay;
  let gate: ForwardingImagegate;

  before(async () => {
    await requireUnixSocket('containerd (CRI)', services.containerdSocket);
    relay = await UnixRelay.start(services.containerdSocket);
  });
  afterEach(async () => {
    await gate?.stop();
  });
  after(async () => {
    await relay?.close();
  });

  it('fails every RPC with UNAVAILABLE naming the endpoint while the runtime is down, and serves again once it is back', async () => {
    gate = await ForwardingImagegate.start(`unix://${relay.path}`);
    await gate.client.call('imageFsInfo', {});

    await relay.cut();
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

    await relay.restore();
    const info = await eventually(() => gate.client.call('imageFsInfo', {}, generous()));
    assert.equal(info.imageFilesystems.length, 1);
  });

  it('starts while the runtime is down (it connects lazily) and serves once it is up', async () => {
    await relay.cut();
    gate = await ForwardingImagegate.start(`unix://${relay.path}`);
    const err = await gate.client.call('listImages', {}, generous()).catch((e: grpc.ServiceError) => e);
    assert.equal((err as grpc.ServiceError).code, grpc.status.UNAVAILABLE);
    await relay.restore();
    await eventually(() => gate.client.call('listImages', {}, generous()));
  });
});

describe('cri backend: the client’s deadline and cancellation reach the runtime’s pull', () => {
  let registry: ThrottledTcpRelay;
  let gate: ForwardingImagegate;
  let direct: CriTestClient;
  let image: string;

  before(async () => {
    await requireUnixSocket('containerd (CRI)', services.containerdSocket);
    await requireTcp('open registry', services.registryOpen);
    registry = await ThrottledTcpRelay.start(services.registryOpen, 64 * 1024);
    image = `${registry.address}/${testImages.large}`;
    gate = await ForwardingImagegate.start(`unix://${services.containerdSocket}`);
    direct = new CriTestClient(`unix://${services.containerdSocket}`);
  });
  beforeEach(() => direct.call('removeImage', { image: { image } }));
  after(async () => {
    direct?.close();
    await gate?.stop();
    await registry?.cut();
  });

  /** Waits until the slow registry has been sending for a while, then until containerd stops downloading. */
  async function assertDownloadStops(): Promise<void> {
    await eventually(async () => {
      const before = registry.bytesDown;
      await sleep(1000);
      assert.equal(registry.bytesDown, before, 'containerd is still downloading');
    }, 15, 0);
    assert.equal((await direct.call('imageStatus', { image: { image } })).image, null);
  }

  it('a deadline passing ends containerd’s download', async () => {
    const startedBytes = registry.bytesDown;
    const err = await gate.client.call('pullImage', { image: { image } }, { deadline: Date.now() + 2500 }).catch((e: grpc.ServiceError) => e);
    assert.equal((err as grpc.ServiceError).code, grpc.status.DEADLINE_EXCEEDED);
    assert.ok(registry.bytesDown > startedBytes, 'the pull had reached the registry');
    await assertDownloadStops();
  });

  it('a client cancelling ends containerd’s download', async () => {
    const startedBytes = registry.bytesDown;
    const call = gate.client.raw.pullImage({ image: { image } }, () => undefined);
    await eventually(async () => assert.ok(registry.bytesDown > startedBytes + 64 * 1024, 'download under way'), 40, 250);
    call.cancel();
    await assertDownloadStops();
  });
});
