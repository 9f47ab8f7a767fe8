/**
 * `imagegate credential-provider install | uninstall` on the real-systemd
 * node image (testing/hostpatch/node.ts), whose stand-in kubelet validates its
 * credential provider config at start-up as kubelet does. Run these under
 * `flock /tmp/imagegate-node.lock`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { REPO } from '../../testing/hostpatch/layouts';
import { snapshotDiff, TestNode } from '../../testing/hostpatch/node';
import type { TestLayout } from '../../testing/hostpatch/layouts';
import { EXECUTABLE, pluginExecutable } from '../../testing/credential-provider/plugin';

const CLI = `/usr/bin/node ${REPO}/node_modules/tsx/dist/cli.mjs ${REPO}/bin/main.ts credential-provider`;
const PLUGIN_CONFIG = '/etc/imagegate/plugin.yaml';
const BASE = [
  '--executable', EXECUTABLE, '--match-image', 'registry.example:5443', '--healthz-timeout', '60s',
  '--plugin-config', PLUGIN_CONFIG, '--provider-arg=--agent-socket=/run/imagegate/credential-provider.sock',
];
const REQUEST = JSON.stringify({ apiVersion: 'credentialprovider.kubelet.k8s.io/v1', kind: 'CredentialProviderRequest', image: 'registry.example:5443/team/app:1' });

async function install(node: TestNode, verb: 'install' | 'uninstall', args: string[] = BASE) {
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return node.sh(`cd /tmp && AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true ${CLI} ${verb} ${quoted}`, 300_000);
}

/** Runs the installed plugin as kubelet would: the entry's binary and args from the config kubelet now reads, stdin the request. */
async function execInstalled(node: TestNode): Promise<{ code: number; stdout: string; stderr: string }> {
  const k = await node.kubelet();
  const p = (k as unknown as { credentialProviders: { name: string; binary: string; args: string[] }[] }).credentialProviders.find((x) => x.name === 'imagegate-credential-provider')!;
  const args = p.args.map((a) => `'${a}'`).join(' ');
  return node.sh(`echo '${REQUEST}' | env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ${p.binary} ${args}`);
}

const CASES: { layout: TestLayout; binDir: string; format: 'json' | 'yaml'; existing: string[] }[] = [
  { layout: 'eks-al2023', binDir: '/etc/eks/image-credential-provider', format: 'json', existing: ['ecr-credential-provider'] },
  { layout: 'kubeadm', binDir: '/opt/imagegate/bin', format: 'yaml', existing: [] },
];

for (const c of CASES) {
  describe(`credential-provider install on a systemd node: ${c.layout}`, function () {
    this.timeout(300_000);
    let node: TestNode;
    let pristine: string;

    before(async () => {
      await pluginExecutable();
      node = await TestNode.boot(c.layout);
      await node.must(`mkdir -p /etc/imagegate && cat > /etc/imagegate/docker.json <<'EOF'\n${JSON.stringify({ auths: { 'registry.example:5443': { username: 'robot', password: 'robot-pass' } } })}\nEOF\ncat > ${PLUGIN_CONFIG} <<'EOF'\n${YAML.stringify({ credentials: { rules: [{ match: { registry: 'registry.example:5443' }, provider: 'static', with: { file: '/etc/imagegate/docker.json' } }] } })}EOF`);
      // kubelet 1.34: service-account tokens for credential providers are on by default (KEP-4412 beta).
      await node.must('systemctl set-environment STANDIN_KUBELET_VERSION=1.34');
      pristine = await node.snapshot();
    });
    after(async () => node?.remove());

    it('install → one provider entry added, kubelet restarted healthy with it, the plugin answers as kubelet runs it', async () => {
      const r = await install(node, 'install', [...BASE, '--token-audience', 'sts.amazonaws.com']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'installed');
      await node.waitHealthy(30_000);
      const k = (await node.kubelet()) as unknown as { args: string[]; credentialProviders: { name: string; binary: string; tokenAttributes?: unknown }[] };
      const config = `/run/imagegate/credential-provider/config.${c.format}`;
      assert.ok(k.args.includes(`--image-credential-provider-config=${config}`), k.args.join(' '));
      assert.ok(k.args.includes(`--image-credential-provider-bin-dir=${c.binDir}`));
      assert.deepEqual(k.credentialProviders.map((p) => [p.name, p.binary]), [
        ...c.existing.map((n) => [n, `${c.binDir}/${n}`]),
        ['imagegate-credential-provider', `${c.binDir}/imagegate-credential-provider`],
      ]);
      assert.deepEqual(k.credentialProviders.at(-1)!.tokenAttributes, {
        serviceAccountTokenAudience: 'sts.amazonaws.com', requireServiceAccount: false,
        optionalServiceAccountAnnotationKeys: ['imagegate.io/role-arn', 'eks.amazonaws.com/ecr-role-arn'], cacheType: 'ServiceAccount',
      });
      assert.deepEqual((k.credentialProviders.at(-1) as unknown as { args: string[] }).args, ['--config=/run/imagegate/credential-provider/plugin.yaml', '--agent-socket=/run/imagegate/credential-provider.sock']);
      assert.equal(await node.must('cat /run/imagegate/credential-provider/plugin.yaml'), await node.must(`cat ${PLUGIN_CONFIG}`));
      const run = await execInstalled(node);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout).auth, { 'registry.example:5443': { username: 'robot', password: 'robot-pass' } });
    });

    it('install again → unchanged, kubelet not restarted', async () => {
      const before = await node.unit('kubelet.service', ['InvocationID', 'NRestarts', 'MainPID']);
      const r = await install(node, 'install', [...BASE, '--token-audience', 'sts.amazonaws.com']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'unchanged');
      assert.deepEqual(await node.unit('kubelet.service', ['InvocationID', 'NRestarts', 'MainPID']), before);
    });

    it('uninstall → every file byte-identical to before, kubelet healthy on its own configuration', async () => {
      const r = await install(node, 'uninstall');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'uninstalled');
      await node.waitHealthy(30_000);
      assert.equal(snapshotDiff(pristine, await node.snapshot()), '');
      const k = (await node.kubelet()) as unknown as { args: string[]; credentialProviders?: { name: string }[] };
      assert.ok(!k.args.some((a) => a.includes('/run/imagegate/credential-provider')));
      assert.deepEqual((k.credentialProviders ?? []).map((p) => p.name), c.existing);
    });

    if (c.layout === 'eks-al2023') {
      it('a rolling update hands the entry over (SIGTERM with the DaemonSet still installing: left; the next pod: unchanged, no kubelet restart); the DaemonSet deleted: uninstalled', async () => {
        // The API server as the pod sees it, inside the node (it has loopback only): a kube-apiserver stand-in
        // with the service-account mount at its in-cluster path; its key and certificate made here (no openssl there).
        const SA = '/var/run/secrets/kubernetes.io/serviceaccount';
        const keyDir = mkdtempSync(join(tmpdir(), 'imagegate-sa-tls-'));
        execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=kube-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(keyDir, 'tls.key'), '-out', join(keyDir, 'ca.crt')], { stdio: 'pipe' });
        for (const f of ['tls.key', 'ca.crt']) await node.must(`mkdir -p ${SA} && cat > ${SA}/${f} <<'EOF'\n${readFileSync(join(keyDir, f), 'utf8')}EOF`);
        rmSync(keyDir, { recursive: true, force: true });
        const ds = (args: string[]) => JSON.stringify({ kind: 'DaemonSet', metadata: { name: 'imagegate' }, spec: { template: { spec: { containers: [{ name: 'credential-provider', image: 'ghcr.io/imagegate/imagegate:0.2.0', args }] } } } });
        await node.must(`mkdir -p /tmp/ds/imagegate && echo '${ds(['credential-provider', 'install', '--uninstall-on-exit'])}' > /tmp/ds/imagegate/imagegate.json`);
        await node.must(`systemd-run --unit kube-api-standin --quiet /usr/bin/node ${REPO}/node_modules/tsx/dist/cli.mjs ${REPO}/testing/hostpatch/fixtures/kube-apiserver.ts 6443 ${SA} /tmp/ds imagegate`);
        const pod = (unit: string) =>
          node.must(`systemd-run --unit ${unit} --quiet --working-directory=/tmp -p KillMode=mixed -E KUBERNETES_SERVICE_HOST=127.0.0.1 -E KUBERNETES_SERVICE_PORT=6443 -E AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true ${CLI} install --uninstall-on-exit ${BASE.map((a) => `'${a}'`).join(' ')}`);
        const said = async (unit: string) => (await node.sh(`journalctl -u ${unit} --no-pager -o cat`)).stdout;
        const until = async (unit: string, line: RegExp) => {
          for (let i = 0; i < 240 && !line.test(await said(unit)); i++) await new Promise((r) => setTimeout(r, 500));
          assert.match(await said(unit), line, `${unit} says ${line}`);
        };
        const entry = async () => ((await node.kubelet()) as unknown as { credentialProviders?: { name: string }[] }).credentialProviders?.some((p) => p.name === 'imagegate-credential-provider');
        try {
          await until('kube-api-standin', /kube-apiserver stand-in on 6443/);
          await pod('cp-old');
          await until('cp-old', /^installed$/m);
          await node.waitHealthy(30_000);
          const installed = await node.unit('kubelet.service', ['InvocationID', 'NRestarts']);

          // The old pod stops during a rolling update: the template still installs the plugin.
          await node.must('systemctl stop cp-old');
          assert.match(await said('cp-old'), /^handed over$/m);
          assert.equal(await entry(), true, 'the entry stays for the next pod');
          // The new pod: the identical entry is adopted as it is.
          await pod('cp-new');
          await until('cp-new', /^unchanged$/m);
          assert.deepEqual(await node.unit('kubelet.service', ['InvocationID', 'NRestarts']), installed, 'kubelet not restarted by the upgrade');

          // The DaemonSet is deleted: the last pod uninstalls.
          await node.must('rm /tmp/ds/imagegate/imagegate.json');
          await node.must('systemctl stop cp-new');
          assert.match(await said('cp-new'), /^uninstalled$/m);
          await node.waitHealthy(30_000);
          assert.equal(await entry(), false);
        } finally {
          await node.sh('systemctl stop cp-old cp-new kube-api-standin; systemctl reset-failed cp-old cp-new kube-api-standin; rm -rf /tmp/ds /var/run/secrets');
          await install(node, 'uninstall');
        }
        assert.equal(snapshotDiff(pristine, await node.snapshot()), '');
      });
    }

    it('a broken plugin leaves kubelet healthy (kubelet runs plugins only for pulls); the failing exec is all it costs', async () => {
      await node.must('printf "#!/bin/sh\\necho broken >&2\\nexit 3\\n" > /tmp/broken-plugin && chmod 755 /tmp/broken-plugin');
      const r = await install(node, 'install', [...BASE.map((a) => (a === EXECUTABLE ? '/tmp/broken-plugin' : a))].map((a, i, all) => (all[i - 1] === '--executable' ? '/tmp/broken-plugin' : a)));
      assert.equal(r.code, 0, r.stderr);
      await node.waitHealthy(30_000);
      const run = await execInstalled(node);
      assert.equal(run.code, 3);
      assert.ok(await node.healthy());
      assert.equal((await install(node, 'uninstall')).code, 0);
      assert.equal(snapshotDiff(pristine, (await node.snapshot()).split('\n').filter((l) => !l.includes('/tmp/')).join('\n')), '');
    });

    it('kubelet refusing the new configuration (1.32: tokenAttributes behind a disabled feature gate) → rolled back, kubelet healthy, node untouched', async () => {
      await node.must('systemctl set-environment STANDIN_KUBELET_VERSION=1.32');
      try {
        const r = await install(node, 'install', [...BASE, '--token-audience', 'sts.amazonaws.com', '--healthz-timeout', '15s']);
        assert.equal(r.code, 4, `${r.stdout}\n${r.stderr}`);
        assert.match(r.stderr, /^imagegate credential-provider install: kubelet did not answer .* rolled back and restarted kubelet on its own configuration\n$/m);
        await node.waitHealthy(30_000);
        assert.equal(snapshotDiff(pristine, await node.snapshot()), '');
        const journal = await node.sh('journalctl -u kubelet --no-pager | grep -c "tokenAttributes is not supported"');
        assert.ok(Number(journal.stdout.trim()) >= 1, 'kubelet refused the config');
      } finally {
        await node.must('systemctl set-environment STANDIN_KUBELET_VERSION=1.34');
      }
    });
  });
}

