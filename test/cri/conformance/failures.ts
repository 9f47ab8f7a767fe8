import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { manifestRequests } from '../../support/cri-registry-log';
import { ThrottledRelay, failingRegistry, freeRelayPort } from '../../support/cri-relay';
import { services, testImages } from '../../../testing/services';
import { type Conformance, open, rejectsWith, waitFor } from './context';

/** Shared pulls, deadlines, cancellation and unavailable registries. */
export function failureSpecs(t: Conformance): void {
  describe('concurrency, deadlines and failures', () => {
    it('shares two concurrent pulls of one image: one pull reaches the registry', async () => {
      const image = open(testImages.concurrent);
      const [repository, tag] = testImages.concurrent.split(':');
      const count = () => manifestRequests(services.registryOpenLog, repository, tag);
      const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
      await t.remove(image);
      let before = count();
      await t.pull(image);
      await settle();
      const single = count() - before;
      assert.ok(single >= 1, 'a pull shows in the registry log');
      await t.remove(image);
      before = count();
      const [a, b] = await Promise.all([t.pull(image), t.pull(image)]);
      await settle();
      assert.equal(a, b);
      assert.equal(count() - before, single, 'two concurrent pulls cost the registry what one pull does');
    });

    it('aborts a slow pull when the client deadline passes (DEADLINE_EXCEEDED) and leaves no image', async () => {
      const relay = await ThrottledRelay.start(services.registryOpen, { bytesPerSecond: 128 * 1024 });
      try {
        await t.removeEverywhere(testImages.large);
        const image = `${relay.host}/${testImages.large}`;
        await rejectsWith(t.pull(image, undefined, 1500), status.DEADLINE_EXCEEDED);
        await waitFor(() => relay.downloading === 0, 30_000, 'the backend pull to stop downloading');
        assert.equal((await t.status(image)).image, null);
      } finally {
        await relay.close();
      }
    });

    it('aborts a slow pull when the client cancels (CANCELLED)', async () => {
      const relay = await ThrottledRelay.start(services.registryOpen, { bytesPerSecond: 128 * 1024 });
      try {
        await t.removeEverywhere(testImages.large);
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 1000);
        await rejectsWith(t.pull(`${relay.host}/${testImages.large}`, undefined, undefined, controller.signal), status.CANCELLED);
        await waitFor(() => relay.downloading === 0, 30_000, 'the backend pull to stop downloading');
      } finally {
        await relay.close();
      }
    });

    it('says RegistryUnavailable when the registry is unreachable', async () => {
      const port = await freeRelayPort();
      const details = await t.pull(`127.0.0.1:${port}/${testImages.busybox}`).then(
        () => assert.fail('pull from a closed port succeeded'),
        (err: { details: string }) => err.details,
      );
      assert.match(details, /^RegistryUnavailable/);
    });

    it('says RegistryUnavailable when the registry answers 503', async () => {
      const registry = await failingRegistry();
      try {
        const details = await t.pull(`${registry.host}/${testImages.busybox}`).then(
          () => assert.fail('pull from a 503 registry succeeded'),
          (err: { details: string }) => err.details,
        );
        assert.match(details, /^RegistryUnavailable/);
      } finally {
        await registry.close();
      }
    });
  });
}
