/**
 * The behaviour every image backend must show through imagegate, run once per
 * backend: `describeConformance('docker', () => new DockerBackend(...))`.
 * Each suite binds a real imagegate server on a temporary Unix socket with the
 * backend and talks to it through a real gRPC client. Only images from CI's
 * loopback registries are used (testing/services.ts), and every assertion
 * holds for any correct CRI image service. The parts live in ./conformance/.
 */
import assert from 'node:assert/strict';
import { TestImagegate } from '../support/cri-server';
import { DIAL_FORMS, GoCriClient, KUBELET_ERA } from '../../testing/go-cri-client';
import { requireTcp, services } from '../../testing/services';
import { credentialSpecs } from './conformance/credentials';
import { Conformance, type BackendFactory } from './conformance/context';
import { failureSpecs } from './conformance/failures';
import { imageSpecs } from './conformance/images';
import { inputSpecs } from './conformance/input';
import { removeListSpecs } from './conformance/remove-list';

export { rejectsWith, type BackendFactory } from './conformance/context';

/** Registers the shared behaviour suite for one backend; `createBackend` is called once per imagegate the suite starts. */
export function describeConformance(name: string, createBackend: BackendFactory): void {
  describe(`CRI image service conformance: ${name} backend`, function () {
    this.timeout(120_000);
    const t = new Conformance(createBackend);

    before(async () => {
      await requireTcp('docker-registry (open)', services.registryOpen);
      await requireTcp('docker-registry (htpasswd)', services.registryHtpasswd);
      t.gate = await TestImagegate.start(await createBackend());
    });
    after(async () => {
      await t.gate?.stop();
    });

    imageSpecs(t);
    credentialSpecs(t);
    failureSpecs(t);
    removeListSpecs(t);
    inputSpecs(t);

    // The same core through the client kubelet uses, dialed as each kubelet era dials (see testing/cri-go).
    for (const form of DIAL_FORMS) {
      describe(`through grpc-go dialed as ${KUBELET_ERA[form]} (:authority ${form})`, () => {
        let go: GoCriClient;
        before(async () => {
          go = await GoCriClient.start(t.gate.socket, form);
          t.call = go.call.bind(go);
        });
        after(async () => {
          t.call = t.grpcJs;
          await go?.close();
        });

        it('answers grpc.health.v1 Check with SERVING, overall and for runtime.v1.ImageService', async () => {
          for (const service of ['', 'runtime.v1.ImageService']) assert.equal((await go.healthCheck(service)).status, 'SERVING');
        });
        imageSpecs(t);
        credentialSpecs(t);
        removeListSpecs(t, { streaming: false });
      });
    }
  });
}
