/**
 * The credential-provider kustomize overlays build, kubectl decodes every
 * object offline, and what they configure is what imagegate accepts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { loadPluginConfig } from '../../src/credential-provider/settings';
import { loadImageServiceConfig } from '../../src/cri/config';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');

interface Obj { kind: string; metadata: { name: string }; [k: string]: unknown }
interface Container { name: string; args?: string[]; env?: { name: string; value?: string }[]; volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[] }

async function render(overlay: string): Promise<Obj[]> {
  const { stdout: built } = await run('kubectl', ['kustomize', join(ROOT, 'daemonset/overlays', overlay)], { maxBuffer: 8 << 20 });
  const decoded = await new Promise<string>((res, rej) => {
    const child = execFile('kubectl', ['label', '--local', '--dry-run=client', '-f', '-', '-o', 'yaml', 'imagegate.dev/checked=true'], { maxBuffer: 8 << 20 }, (err, stdout, stderr) =>
      err ? rej(new Error(`kubectl could not decode ${overlay}: ${stderr}`)) : res(stdout));
    child.stdin!.end(built);
  });
  const docs = decoded.split(/^(?=apiVersion:)/m).filter((d) => d.trim()).map((d) => YAML.parse(d) as Obj & { items?: Obj[] });
  return docs.flatMap((d) => (d.kind === 'List' ? d.items! : [d]));
}

const OVERLAYS = [
  { name: 'credential-provider-eks', binDir: '/etc/eks/image-credential-provider' },
  { name: 'credential-provider-gke', binDir: '/home/kubernetes/bin' },
  { name: 'credential-provider-kubeadm', binDir: '/opt/imagegate' },
];

describe('install: credential-provider overlays', function () {
  this.timeout(60_000);
  for (const o of OVERLAYS) {
    describe(`daemonset/overlays/${o.name}`, () => {
      let objects: Obj[];
      let spec: { containers: Container[]; initContainers: Container[]; volumes: { name: string; hostPath?: { path: string }; configMap?: { name: string } }[] };
      before(async () => {
        objects = await render(o.name);
        spec = (objects.find((x) => x.kind === 'DaemonSet') as unknown as { spec: { template: { spec: typeof spec } } }).spec.template.spec;
      });

      it('swaps no image service: no patcher, an installer that uninstalls when the pod stops', () => {
        assert.deepEqual(spec.containers.map((c) => c.name), ['credential-provider']);
        const args = spec.containers[0].args!;
        assert.deepEqual(args.slice(0, 3), ['credential-provider', 'install', '--uninstall-on-exit']);
        assert.ok(args.includes('--host-root=/host') && args.includes('--token-audience=sts.amazonaws.com'));
      });

      it("mounts kubelet's bin dir writable, the host's / read-only and /run writable", () => {
        const mounts = spec.containers[0].volumeMounts!;
        const bin = mounts.find((m) => m.name === 'kubelet-bin-dir')!;
        assert.equal(bin.mountPath, `/host${o.binDir}`);
        assert.ok(!bin.readOnly);
        assert.equal(spec.volumes.find((v) => v.name === 'kubelet-bin-dir')!.hostPath!.path, o.binDir);
        assert.equal(mounts.find((m) => m.name === 'host-root')!.readOnly, true);
        assert.ok(mounts.some((m) => m.name === 'host-run' && m.mountPath === '/host/run' && !m.readOnly));
      });

      it('gives the image service and the plugin one config that both accept, with the agent socket under /run/imagegate', () => {
        const cm = objects.find((x) => x.kind === 'ConfigMap' && x.metadata.name === 'imagegate-credential-provider') as unknown as { data: Record<string, string> };
        const dir = mkdtempSync(join(tmpdir(), 'imagegate-overlay-'));
        try {
          writeFileSync(join(dir, 'config.yaml'), cm.data['config.yaml']);
          const service = loadImageServiceConfig(['--config', join(dir, 'config.yaml')], {}).config;
          assert.equal(service.credentialProvider?.agentSocket, '/run/imagegate/credential-provider.sock');
          const plugin = loadPluginConfig(['--config', join(dir, 'config.yaml')], {}).config;
          assert.equal(plugin.credentials?.rules[0].provider, 'ecr');
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
        const agent = spec.initContainers.find((c) => c.name === 'image-service')!;
        assert.equal(agent.env!.find((e) => e.name === 'IMAGEGATE_CONFIG')!.value, '/etc/imagegate/config.yaml');
        assert.ok(agent.volumeMounts!.some((m) => m.name === 'imagegate-run' && m.mountPath === '/run/imagegate'));
      });

      it('lets kubelet (system:nodes) request service-account tokens for the audience', () => {
        const role = objects.find((x) => x.kind === 'ClusterRole' && x.metadata.name === 'imagegate-kubelet-token-audience') as unknown as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] };
        assert.deepEqual(role.rules, [{ apiGroups: [''], resources: ['sts.amazonaws.com'], verbs: ['request-serviceaccounts-token-audience'] }]);
        const binding = objects.find((x) => x.kind === 'ClusterRoleBinding') as unknown as { subjects: { kind: string; name: string }[] };
        assert.deepEqual(binding.subjects.map((s) => [s.kind, s.name]), [['Group', 'system:nodes']]);
      });
    });
  }
});
