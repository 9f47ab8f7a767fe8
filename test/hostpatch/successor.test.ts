import assert from 'node:assert/strict';
import { createLogger } from '../../src/log/logger';
import { KubeApi } from '../../hostpatch/kube-api';
import { successorExpected } from '../../hostpatch/successor';
import { daemonSetWith, KubeApiServerStandin } from '../../testing/hostpatch/fixtures/kube-apiserver';

/**
 * The handover decision of a stopping pod (the credential-provider installer
 * leaves its entry for a successor): asked of a kube-apiserver stand-in.
 */
describe('hostpatch successor: is a pod that stops now followed by one doing the same job?', () => {
  let api: KubeApiServerStandin;
  let kube: KubeApi;
  const logs: string[] = [];
  const log = createLogger({ level: 'debug', sink: logs });
  const installer = (c: { args?: string[] }) => c.args?.[0] === 'credential-provider' && c.args?.[1] === 'install';
  const withInstaller = (extra: object = {}) => {
    const ds = daemonSetWith('ghcr.io/imagegate/imagegate:0.2.0') as { spec: { template: { spec: { containers: object[] } } } };
    ds.spec.template.spec.containers = [{ name: 'credential-provider', image: 'ghcr.io/imagegate/imagegate:0.2.0', args: ['credential-provider', 'install', '--uninstall-on-exit'] }];
    return { ...ds, ...extra };
  };

  before(async () => {
    api = await KubeApiServerStandin.start();
    api.granted.add('imagegate');
    kube = KubeApi.inCluster(api.env, api.saDir)!;
  });
  after(() => api?.stop());
  beforeEach(() => {
    logs.length = 0;
    api.daemonSets.clear();
  });

  it('a rolling update (the DaemonSet stays and still installs the plugin): yes', async () => {
    api.daemonSets.set('imagegate/imagegate', withInstaller());
    assert.equal(await successorExpected(kube, 'imagegate', installer, log), true);
  });
  it('the DaemonSet deleted (gone, or going with a deletionTimestamp): no', async () => {
    assert.equal(await successorExpected(kube, 'imagegate', installer, log), false);
    api.daemonSets.set('imagegate/imagegate', withInstaller({ metadata: { name: 'imagegate', deletionTimestamp: '2026-12-02T01:00:00Z' } }));
    assert.equal(await successorExpected(kube, 'imagegate', installer, log), false);
  });
  it('the template switched to another job (image-service mode: the patcher, no installer): no', async () => {
    api.daemonSets.set('imagegate/imagegate', daemonSetWith('ghcr.io/imagegate/imagegate:0.2.0'));
    assert.equal(await successorExpected(kube, 'imagegate', installer, log), false);
  });
  it('the API refuses or cannot be reached: no (clean up), with a warning', async () => {
    api.daemonSets.set('imagegate/other', withInstaller());
    assert.equal(await successorExpected(kube, 'other', installer, log), false);
    assert.match(logs.join('\n'), /HTTP 403.*could not read the DaemonSet to decide on a handover/);
    const unreachable = KubeApi.inCluster({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '1' }, api.saDir)!;
    assert.equal(await successorExpected(unreachable, 'imagegate', installer, log), false);
  });
  it('outside a cluster: no', async () => {
    assert.equal(await successorExpected(undefined, 'imagegate', installer, log), false);
  });
});
