import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { hostpatchCommand } from '../../hostpatch/command';
import { Reader, Writer, splitSignature } from '../../hostpatch/dbus/marshal';
import { ConfigError } from '../../src/config/errors';
import { RefusalError } from '../../hostpatch/errors';
import { HostFs } from '../../hostpatch/host';
import { endpointMode, parseKubeletVersion, patchedKubeletConfig } from '../../hostpatch/kubelet-config';
import { detectLayout } from '../../hostpatch/layout';
import { effectiveExecStart, laterExecStartDropIns, loadUnit, parseUnit } from '../../hostpatch/unit-file';
import { layoutFiles, type TestLayout } from '../../testing/hostpatch/layouts';

function hostWith(files: Record<string, string>): HostFs {
  const root = mkdtempSync(join(tmpdir(), 'imagegate-host-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, dirname(path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  roots.push(root);
  return new HostFs(root);
}
const roots: string[] = [];
after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

describe('hostpatch: D-Bus marshalling', () => {
  for (const [signature, values] of [
    ['s', ['kubelet.service']],
    ['ss', ['kubelet.service', 'replace']],
    ['a(yv)', [[[1, { signature: 'o', value: '/org/freedesktop/systemd1' }], [8, { signature: 'g', value: 'ss' }]]]],
    ['ubay', [7, true, [1, 2, 3]]],
    ['a{sv}', [[['ActiveState', { signature: 's', value: 'active' }], ['NRestarts', { signature: 'u', value: 3 }]]]],
    ['yt', [1, 2n ** 40n]],
  ] as [string, unknown[]][]) {
    it(`round-trips ${signature}`, () => {
      const w = new Writer();
      w.write(signature, values);
      assert.deepEqual(new Reader(Buffer.from(w.bytes())).read(signature), values);
    });
  }
  it('splits signatures into complete types', () => {
    assert.deepEqual(splitSignature('sa{sv}(ou)ay'), ['s', 'a{sv}', '(ou)', 'ay']);
    assert.throws(() => splitSignature('(s'), /bad D-Bus signature/);
  });
});

describe('hostpatch: unit files', () => {
  it('joins continuation lines and skips comments', () => {
    assert.deepEqual(parseUnit('# c\n[Service]\nExecStart=/bin/a\\\n  --b\n; x\n'), [{ section: 'Service', key: 'ExecStart', value: '/bin/a --b' }]);
  });
  it('follows ExecStart= resets across drop-ins in file-name order, /etc over /usr/lib', async () => {
    const host = hostWith({
      '/usr/lib/systemd/system/kubelet.service': '[Service]\nExecStart=/usr/bin/kubelet\n',
      '/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf': '[Service]\nExecStart=\nExecStart=/usr/bin/kubelet $A\n',
      '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf': '[Service]\nExecStart=\nExecStart=/usr/bin/kubelet $ETC\n',
      '/run/systemd/system/kubelet.service.d/20-x.conf': '[Service]\nEnvironment=X=1\n',
      '/run/systemd/system/kubelet.service.d/99-imagegate.conf': '[Service]\nExecStart=\nExecStart=/mine\n',
    });
    const unit = await loadUnit(host, 'kubelet.service', ['99-imagegate.conf']);
    assert.deepEqual(effectiveExecStart(unit), ['/usr/bin/kubelet $ETC']);
    assert.deepEqual(laterExecStartDropIns(unit, '99-imagegate.conf'), []);
  });
  it('names a later drop-in that would override the patch', async () => {
    const host = hostWith({
      '/etc/systemd/system/kubelet.service': '[Service]\nExecStart=/k\n',
      '/etc/systemd/system/kubelet.service.d/zz-local.conf': '[Service]\nExecStart=\nExecStart=/k2\n',
    });
    assert.deepEqual(laterExecStartDropIns(await loadUnit(host, 'kubelet.service'), '99-imagegate.conf'), ['/etc/systemd/system/kubelet.service.d/zz-local.conf']);
  });
});

describe('hostpatch: layout detection', () => {
  for (const layout of ['gke', 'eks-al2023', 'eks-al2', 'kubeadm'] as TestLayout[]) {
    it(`detects ${layout}`, async () => {
      const files = Object.fromEntries(Object.entries(layoutFiles(layout)).map(([p, f]) => [p, f.content]));
      assert.equal((await detectLayout(hostWith(files))).name, layout);
    });
  }
  it('refuses an unknown layout and names what it looked for', async () => {
    const files = Object.fromEntries(Object.entries(layoutFiles('unknown')).map(([p, f]) => [p, f.content]));
    await assert.rejects(detectLayout(hostWith(files)), (err: Error) => err instanceof RefusalError && [/unknown kubelet layout/, /GKE/, /AL2023/, /AL2 /, /kubeadm/, /nothing was changed/].every((re) => re.test(err.message)));
  });
  it('refuses a host without kubelet.service', async () => {
    await assert.rejects(detectLayout(hostWith({ '/etc/hostname': 'x' })), /no kubelet.service/);
  });
  it('refuses Bottlerocket', async () => {
    await assert.rejects(detectLayout(hostWith({ '/etc/os-release': 'NAME=Bottlerocket\nID=bottlerocket\n' })), /Bottlerocket/);
  });
});

describe('hostpatch: kubelet config copy', () => {
  it('sets imageServiceEndpoint and makes relative paths absolute (YAML)', () => {
    const out = patchedKubeletConfig('kind: KubeletConfiguration\nstaticPodPath: manifests\ntlsCertFile: /abs/cert\n', '/home/kubernetes/kubelet-config.yaml', 'unix:///run/imagegate/imagegate.sock');
    assert.match(out, /imageServiceEndpoint: unix:\/\/\/run\/imagegate\/imagegate.sock/);
    assert.match(out, /staticPodPath: \/home\/kubernetes\/manifests/);
    assert.match(out, /tlsCertFile: \/abs\/cert/);
  });
  it('keeps JSON as JSON', () => {
    const out = patchedKubeletConfig('{"kind":"KubeletConfiguration"}', '/etc/kubernetes/kubelet/config.json', 'unix:///s');
    assert.deepEqual(JSON.parse(out), { kind: 'KubeletConfiguration', imageServiceEndpoint: 'unix:///s' });
  });
  it('refuses to replace an image endpoint the node already sets (SOCI)', () => {
    assert.throws(
      () => patchedKubeletConfig('{"imageServiceEndpoint":"unix:///run/soci-snapshotter-grpc/soci-snapshotter-grpc.sock"}', '/etc/kubernetes/kubelet/config.json', 'unix:///s'),
      /already sets imageServiceEndpoint.*soci/,
    );
  });
  it('picks the config field from kubelet 1.27 and the flag before', () => {
    assert.equal(endpointMode(parseKubeletVersion('v1.26.15')!), 'flag');
    assert.equal(endpointMode(parseKubeletVersion('v1.27.0-eks-1')!), 'config');
    assert.equal(endpointMode(parseKubeletVersion('1.35')!), 'config');
    assert.equal(parseKubeletVersion('latest'), undefined);
  });
});

describe('hostpatch: command settings', () => {
  for (const [argv, setting, message] of [
    [['frobnicate'], 'hostpatch', /unknown action "frobnicate"/],
    [['apply', '--mode', 'sideways'], '--mode', /config|flag|auto/],
    [['apply', '--watchdog-interval', '10s', '--watchdog-timeout', '5s'], '--watchdog-timeout', /at least watchdog.interval/],
    [['apply', '--wait', 'soon'], '--wait', /not a duration/],
    [['apply', '--socket', 'relative.sock'], '--socket', /absolute host path/],
  ] as [string[], string, RegExp][]) {
    it(`${argv.join(' ')} → ConfigError naming ${setting}`, async () => {
      await assert.rejects(hostpatchCommand.run(argv), (err: Error) => err instanceof ConfigError && err.message.includes(setting) && message.test(err.message));
    });
  }
});
