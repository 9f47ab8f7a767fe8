import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DockerBackend } from '../../src/cri/docker/backend';
import { parseDockerHost } from '../../src/cri/docker/engine';
import { createLogger } from '../../src/log/logger';
import { KubeApi, KubeApiError } from '../../hostpatch/kube-api';
import { prepullSuccessor } from '../../hostpatch/prepull';
import { runCli } from '../support/cri-cli';
import { TestImagegate } from '../support/cri-server';
import { requireTcp, requireUnixSocket, services, testImages } from '../../testing/services';
import { daemonSetWith, KubeApiServerStandin } from '../../testing/hostpatch/fixtures/kube-apiserver';

const run = promisify(execFile);

/**
 * The patcher's preStop (`hostpatch prepull`): before the pod stops, the
 * images of its DaemonSet's current template are pulled through the image
 * service that still runs, so the next pod of a rolling update starts without
 * a pull while nobody serves kubelet's image socket. Real Docker Engine and
 * registry behind imagegate; the API server is a stand-in (kube-apiserver 1.30
 * answers).
 */
describe('hostpatch prepull: the successor image is on the node before the pod stops', function () {
  this.timeout(120_000);
  let gate: TestImagegate;
  let api: KubeApiServerStandin;
  let kube: KubeApi;
  const logs: string[] = [];
  const log = createLogger({ level: 'debug', sink: logs });
  const present = `${services.registryOpen}/${testImages.busybox}`;
  const successor = `${services.registryOpen}/${testImages.userUid}`;
  const inDocker = async (ref: string) => (await run('docker', ['image', 'inspect', ref]).then(() => true, () => false));

  before(async () => {
    await requireUnixSocket('Docker Engine', services.dockerSocket);
    await requireTcp('docker-registry (open)', services.registryOpen);
    gate = await TestImagegate.start(new DockerBackend({ endpoint: parseDockerHost(`unix://${services.dockerSocket}`)!, pullProgressTimeoutMs: 60_000 }));
    api = await KubeApiServerStandin.start();
    api.granted.add('imagegate');
    kube = KubeApi.inCluster(api.env, api.saDir)!;
    assert.ok(kube, 'the in-cluster API from the service-account mount');
    assert.equal(kube.namespace, 'imagegate');
  });
  after(async () => {
    await gate?.stop();
    await api?.stop();
  });
  beforeEach(() => {
    logs.length = 0;
    api.requests.length = 0;
  });

  it('pulls the template images missing on the node through imagegate and skips those present', async () => {
    await gate.call('PullImage', { image: { image: present } });
    await run('docker', ['image', 'rm', '-f', successor]).catch(() => undefined);
    assert.equal(await inDocker(successor), false);
    api.daemonSets.set('imagegate/imagegate', daemonSetWith(successor, present));

    const results = await prepullSuccessor({ api: kube, namespace: 'imagegate', daemonSet: 'imagegate', socket: gate.socket, timeoutMs: 60_000, log });

    assert.deepEqual(results, [
      { image: present, outcome: 'present' },
      { image: successor, outcome: 'pulled' },
    ]);
    assert.equal(await inDocker(successor), true, 'the successor image is in the node store');
    assert.deepEqual(api.requests.map((r) => [r.method, r.path, r.authorization]), [['GET', '/apis/apps/v1/namespaces/imagegate/daemonsets/imagegate', `Bearer ${api.token}`]]);
    assert.ok(!logs.join('\n').includes(api.token), 'the service-account token never reaches the log');
  });

  it('with no DaemonSet (deleted: no successor) pulls nothing', async () => {
    api.daemonSets.clear();
    const results = await prepullSuccessor({ api: kube, namespace: 'imagegate', daemonSet: 'imagegate', socket: gate.socket, timeoutMs: 10_000, log });
    assert.equal(results, undefined);
    assert.match(logs.join('\n'), /no DaemonSet: no successor image to pull/);
  });

  it('an image that cannot be pulled is reported and logged, the others still pulled; nothing throws', async () => {
    const missing = `${services.registryOpen}/test/does-not-exist:1`;
    await run('docker', ['image', 'rm', '-f', successor]).catch(() => undefined);
    api.daemonSets.set('imagegate/imagegate', { spec: { template: { spec: { containers: [{ name: 'a', image: missing }, { name: 'b', image: successor }] } } } });
    const results = await prepullSuccessor({ api: kube, namespace: 'imagegate', daemonSet: 'imagegate', socket: gate.socket, timeoutMs: 60_000, log });
    assert.deepEqual(results!.map((r) => [r.image, r.outcome]), [[missing, 'failed'], [successor, 'pulled']]);
    assert.match(results![0].error!, /not found|unknown|manifest/i);
    assert.match(logs.join('\n'), /could not pull the successor image/);
  });

  it('a DaemonSet the Role does not grant fails loudly (kubelet records a FailedPreStopHook event)', async () => {
    await assert.rejects(
      prepullSuccessor({ api: kube, namespace: 'imagegate', daemonSet: 'other', socket: gate.socket, timeoutMs: 10_000, log }),
      (err: Error) => err instanceof KubeApiError && err.status === 403 && /forbidden/.test(err.message),
    );
  });

  it('outside a cluster the command does nothing and exits 0', async () => {
    const r = await runCli(['hostpatch', 'prepull', '--host-root', '/nonexistent'], { KUBERNETES_SERVICE_HOST: '' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /not in a Kubernetes cluster/);
  });
});
