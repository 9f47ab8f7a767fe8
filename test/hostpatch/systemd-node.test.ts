/**
 * The patcher against a real systemd: each "node" is a Debian container
 * booted with systemd as PID 1 (.ci/services/50-systemd-node.sh), laid out
 * like one node image, with a stand-in kubelet that validates its image
 * endpoint with ImageFsInfo at start-up and serves /healthz on 10248.
 */
import assert from 'node:assert/strict';
import { HOSTPATCH_CLI, snapshotDiff, TestNode } from '../../testing/hostpatch/node';
import type { TestLayout } from '../../testing/hostpatch/layouts';

const IMAGEGATE = 'unix:///run/imagegate/imagegate.sock';
const DROP_IN = '/run/systemd/system/kubelet.service.d/99-imagegate.conf';
/** One-shot applies in these tests are not followed by a heartbeat, so the watchdog waits long. */
const CALM = ['--watchdog-timeout', '1h', '--healthz-timeout', '60s', '--wait', '30s'];

const CASES: { layout: TestLayout; version: string; mode: 'config' | 'flag' }[] = [
  { layout: 'gke', version: '1.30', mode: 'config' },
  { layout: 'eks-al2023', version: 'v1.31.2-eks-7f9249a', mode: 'config' },
  { layout: 'eks-al2', version: '1.26', mode: 'flag' },
  { layout: 'kubeadm', version: '1.29', mode: 'config' },
];

for (const c of CASES) {
  describe(`hostpatch on a systemd node: ${c.layout} (kubelet ${c.version}, ${c.mode} mode)`, function () {
    this.timeout(180_000);
    let node: TestNode;
    let pristine: string;

    before(async () => {
      node = await TestNode.boot(c.layout, c.version);
      await node.startImagegate();
      pristine = await node.snapshot();
    });
    after(async () => node?.remove());

    it('apply → the stand-in kubelet runs with imagegate as its image service', async () => {
      const r = await node.hostpatch(['apply', '--kubelet-version', c.version, ...CALM]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'applied');
      await node.waitHealthy(30_000);
      const k = await node.kubelet();
      assert.equal(k.endpoint, IMAGEGATE);
      assert.equal(k.answeredBy, '/var/lib/docker', 'ImageFsInfo answered by imagegate (Docker backend)');
      if (c.mode === 'config') assert.match(k.config ?? '', /^\/run\/imagegate\/hostpatch\/kubelet-config\.(yaml|json)$/);
      else assert.ok(k.args.includes(`--image-service-endpoint=${IMAGEGATE}`), k.args.join(' '));
    });

    it('apply again → nothing written, kubelet not restarted', async () => {
      const unitBefore = await node.unit('kubelet.service', ['InvocationID', 'NRestarts', 'MainPID']);
      const filesBefore = await node.snapshot();
      const r = await node.hostpatch(['apply', '--kubelet-version', c.version, ...CALM]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'unchanged');
      assert.deepEqual(await node.unit('kubelet.service', ['InvocationID', 'NRestarts', 'MainPID']), unitBefore);
      // The heartbeat and the watchdog's counter change by design; every other file must not.
      const settled = (s: string) => s.split('\n').filter((l) => !/\/(heartbeat|watchdog\.state)$/.test(l)).join('\n');
      assert.equal(snapshotDiff(settled(filesBefore), settled(await node.snapshot())), '');
    });

    it('systemd-analyze verify accepts every unit the patcher wrote (kubelet.service with its drop-in, watchdog service and timer)', async () => {
      const r = await node.sh('systemd-analyze verify kubelet.service /run/systemd/system/imagegate-watchdog.service /run/systemd/system/imagegate-watchdog.timer 2>&1');
      assert.equal(r.code, 0, r.stdout);
      assert.doesNotMatch(r.stdout, /imagegate|99-imagegate|Unknown key|more than one ExecStart/, r.stdout);
    });

    it('status reports the patch', async () => {
      const r = await node.hostpatch(['status']);
      assert.equal(r.code, 0, r.stderr);
      const s = JSON.parse(r.stdout);
      assert.equal(s.applied, true);
      assert.equal(s.layout, c.layout);
      assert.equal(s.state.mode, c.mode);
      assert.equal(s.kubelet.activeState, 'active');
      assert.equal(s.watchdogTimer, 'active');
      assert.equal(s.error, undefined);
    });

    it('revert → every file byte-identical to before, kubelet back on its own runtime', async () => {
      const r = await node.hostpatch(['revert']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'reverted');
      assert.equal(snapshotDiff(pristine, await node.snapshot()), '');
      await node.waitHealthy(30_000);
      assert.equal((await node.kubelet()).endpoint, 'unix:///run/containerd/containerd.sock');
      assert.equal((await node.unit('imagegate-watchdog.timer', ['LoadState'])).LoadState, 'not-found');
      const again = await node.hostpatch(['revert']);
      assert.equal(again.stdout.trim(), 'nothing');
    });
  });
}

describe('hostpatch on a systemd node: failing open', function () {
  this.timeout(240_000);
  let node: TestNode;
  before(async () => {
    node = await TestNode.boot('gke');
  });
  after(async () => node?.remove());

  it('refuses while imagegate does not answer, and changes nothing', async () => {
    const snap = await node.snapshot();
    const r = await node.hostpatch(['apply', '--kubelet-version', '1.30', '--wait', '2s']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /imagegate did not answer ImageFsInfo.*nothing was changed/);
    assert.equal(snapshotDiff(snap, await node.snapshot()), '');
  });

  it('a reboot with imagegate absent → kubelet healthy on its default endpoint', async () => {
    await node.startImagegate();
    const r = await node.hostpatch(['apply', '--kubelet-version', '1.30', ...CALM]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await node.kubelet()).endpoint, IMAGEGATE);
    await node.reboot();
    await node.waitHealthy(60_000);
    assert.equal((await node.kubelet()).endpoint, 'unix:///run/containerd/containerd.sock');
    assert.equal((await node.sh('systemctl is-active imagegate-test.service')).stdout.trim(), 'inactive', 'imagegate is absent after the reboot');
    assert.equal((await node.sh(`test -e ${DROP_IN}`)).code, 1);
  });

  /** The status of GET http://127.0.0.1:9465<path> inside the node (the patcher's probe listener). */
  const patcherProbe = async (path: string): Promise<number> =>
    Number((await node.must(`/usr/bin/node -e "fetch('http://127.0.0.1:9465${path}').then((r) => console.log(r.status), () => console.log(0))"`)).trim());

  it('imagegate killed → the watchdog reverts within timeout + interval and kubelet is healthy; imagegate back → re-applied; patcher stopped → reverted', async () => {
    await node.startImagegate();
    // The DaemonSet's long-running patcher: heartbeat while imagegate answers. KillMode=mixed: SIGTERM
    // goes to tsx's launcher only, which relays it once to the patcher (as the container runtime would).
    await node.must(`systemd-run --unit imagegate-patcher --quiet --working-directory=/tmp -p KillMode=mixed ${HOSTPATCH_CLI} apply --watch --revert-on-exit --kubelet-version 1.30 --watchdog-interval 2s --watchdog-timeout 6s --healthz-timeout 60s`);
    try {
      await waitUntil(async () => (await node.sh(`test -e ${DROP_IN}`)).code === 0 && (await node.kubelet()).endpoint === IMAGEGATE, 90_000, 'patch applied by the watch loop');
      await new Promise((r) => setTimeout(r, 10_000)); // longer than the watchdog timeout: the heartbeat keeps the patch
      assert.equal((await node.kubelet()).endpoint, IMAGEGATE, 'the watchdog must not revert while imagegate answers');
      // The DaemonSet's probes of the patcher: HTTP on the node's loopback, ready while the patch is applied.
      assert.equal(await patcherProbe('/readyz'), 200);
      assert.equal(await patcherProbe('/healthz'), 200);

      await node.must('systemctl kill -s KILL imagegate-test.service');
      const killedAt = Date.now();
      await waitUntil(async () => (await node.sh(`test -e ${DROP_IN}`)).code === 1, 60_000, 'watchdog revert');
      const revertedAfterMs = Date.now() - killedAt;
      // Documented bound: timeout (6s) + interval (2s); 5s more for timer accuracy and a loaded machine.
      assert.ok(revertedAfterMs <= 6_000 + 2_000 + 5_000, `reverted after ${revertedAfterMs} ms`);
      await waitUntil(async () => (await node.kubelet()).endpoint === 'unix:///run/containerd/containerd.sock', 30_000, 'kubelet restarted on its own runtime');
      await node.waitHealthy(30_000);
      assert.match(await node.must('cat /run/imagegate/hostpatch/reverted-by-watchdog'), /no heartbeat/);
      assert.equal(await patcherProbe('/readyz'), 503, 'not ready while the patch is reverted');

      await node.startImagegate();
      await waitUntil(async () => (await node.kubelet()).endpoint === IMAGEGATE, 90_000, 're-apply once imagegate answers again');

      // The pod stops (DaemonSet deleted): SIGTERM → the patcher reverts before it exits.
      await node.must('systemctl stop imagegate-patcher.service');
      assert.equal((await node.sh(`test -e ${DROP_IN}`)).code, 1, 'drop-in removed on SIGTERM');
      await waitUntil(async () => (await node.kubelet()).endpoint === 'unix:///run/containerd/containerd.sock', 30_000, 'kubelet back on its own runtime');
      assert.equal((await node.sh('ls /run/imagegate/hostpatch')).code, 2, 'state folder removed');
    } finally {
      await node.sh('systemctl stop imagegate-patcher.service; systemctl reset-failed imagegate-patcher.service');
      await node.hostpatch(['revert']);
    }
  });

  it('upgrade: the old patcher stops, a new one starts with the same patch → kubelet restarted at most once and healthy; patcher stopped with no successor → the watchdog reverts within timeout + interval', async () => {
    await node.startImagegate();
    // The handover window is the watchdog timeout: long enough here for tsx's start-up inside the node on a shared machine.
    const WATCH = `apply --watch --kubelet-version 1.30 --watchdog-interval 2s --watchdog-timeout 15s --healthz-timeout 60s`;
    const startPatcher = (unit: string) => node.must(`systemd-run --unit ${unit} --quiet --working-directory=/tmp -p KillMode=mixed ${HOSTPATCH_CLI} ${WATCH}`);
    const restarts = async () => node.unit('kubelet.service', ['InvocationID', 'NRestarts']);
    try {
      await startPatcher('imagegate-patcher-old');
      await waitUntil(async () => (await node.sh(`test -e ${DROP_IN}`)).code === 0 && (await node.kubelet()).endpoint === IMAGEGATE, 90_000, 'patch applied by the old patcher');
      await node.waitHealthy(30_000);
      const before = await restarts();

      // The old pod stops: its patcher exits (SIGTERM), then its image service (the native sidecar) stops.
      await node.must('systemctl stop imagegate-patcher-old.service');
      assert.equal((await node.sh(`test -e ${DROP_IN}`)).code, 0, 'handover: the patch stays in place after SIGTERM');
      await node.must('systemctl stop imagegate-test.service');
      await new Promise((r) => setTimeout(r, 2_000)); // the gap between the pods
      // The new pod: image service first, then the patcher, same settings.
      await node.startImagegate();
      await startPatcher('imagegate-patcher-new');
      await waitUntil(async () => (await node.sh('journalctl -u imagegate-patcher-new --no-pager -o cat')).stdout.includes('adopted the patch in place'), 60_000, 'new patcher adopts the patch').catch(async (err: Error) => {
        throw new Error(`${err.message}\nold: ${(await node.sh('journalctl -u imagegate-patcher-old --no-pager -o cat | tail -5')).stdout}\nnew: ${(await node.sh('journalctl -u imagegate-patcher-new --no-pager -o cat | tail -8')).stdout}`);
      });
      // Longer than the watchdog's timeout: the new patcher's heartbeat keeps the patch.
      await new Promise((r) => setTimeout(r, 18_000));
      const after = await restarts();
      const kubeletStarts = (before.InvocationID === after.InvocationID ? 0 : 1) + (Number(after.NRestarts) - Number(before.NRestarts));
      assert.ok(kubeletStarts <= 1, `kubelet restarted ${kubeletStarts} times during the upgrade (${JSON.stringify({ before, after })})`);
      assert.equal(after.InvocationID, before.InvocationID, 'identical patch adopted: kubelet not restarted at all');
      await node.waitHealthy(10_000);
      assert.equal((await node.kubelet()).endpoint, IMAGEGATE);
      assert.equal((await node.sh(`test -e ${DROP_IN}`)).code, 0);

      // The DaemonSet is deleted: the patcher stops, no successor comes. The watchdog reverts.
      await node.must('systemctl stop imagegate-patcher-new.service');
      const stoppedAt = Date.now();
      await node.must('systemctl stop imagegate-test.service');
      await waitUntil(async () => (await node.sh(`test -e ${DROP_IN}`)).code === 1, 60_000, 'watchdog revert with no successor');
      const revertedAfterMs = Date.now() - stoppedAt;
      // Documented bound: timeout (15s) + interval (2s) after the last heartbeat; 5s more for timer accuracy and a loaded machine.
      assert.ok(revertedAfterMs <= 15_000 + 2_000 + 5_000, `reverted after ${revertedAfterMs} ms`);
      await waitUntil(async () => (await node.kubelet()).endpoint === 'unix:///run/containerd/containerd.sock', 30_000, 'kubelet back on its own runtime');
      await node.waitHealthy(30_000);
    } finally {
      await node.sh('systemctl stop imagegate-patcher-old.service imagegate-patcher-new.service; systemctl reset-failed imagegate-patcher-old.service imagegate-patcher-new.service');
      await node.hostpatch(['revert']);
    }
  });

  it('a patch kubelet does not survive → rolled back automatically, node unchanged', async () => {
    await node.startImagegate();
    // This kubelet build rejects --image-service-endpoint like an unknown flag (cf. Cilium's --network-plugin crash loop).
    await node.must(`mkdir -p /etc/systemd/system/kubelet.service.d && printf '[Service]\\nEnvironment=STANDIN_REJECT_FLAGS=image-service-endpoint\\n' > /etc/systemd/system/kubelet.service.d/50-test-reject.conf && systemctl daemon-reload && systemctl restart kubelet.service`);
    await node.waitHealthy(30_000);
    const snap = await node.snapshot();
    const r = await node.hostpatch(['apply', '--kubelet-version', '1.26', '--healthz-timeout', '8s', '--watchdog-timeout', '1h', '--wait', '30s']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /rolled back/);
    await node.waitHealthy(30_000);
    assert.equal((await node.kubelet()).endpoint, 'unix:///run/containerd/containerd.sock');
    assert.equal(snapshotDiff(snap, await node.snapshot()), '');
    await node.must('rm /etc/systemd/system/kubelet.service.d/50-test-reject.conf && systemctl daemon-reload && systemctl restart kubelet.service');
  });

  it('a read-only host path → clear refusal, node unchanged', async () => {
    await node.waitHealthy(30_000);
    await node.must('mkdir -p /hostro && mount --rbind / /hostro && mount -o remount,bind,ro /hostro/run');
    const snap = await node.snapshot();
    const r = await node.hostpatch(['apply', '--host-root', '/hostro', '--kubelet-version', '1.30', '--wait', '5s']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /cannot write \/run\/.*EROFS.*nothing was changed/);
    assert.equal(snapshotDiff(snap, await node.snapshot()), '');
  });

  it('no /run/systemd in the host root → clear refusal, node unchanged', async () => {
    await node.must('mkdir -p /hostnosd && mount --rbind / /hostnosd && mount -t tmpfs none /hostnosd/run');
    const snap = await node.snapshot();
    const r = await node.hostpatch(['apply', '--host-root', '/hostnosd', '--kubelet-version', '1.30', '--wait', '5s']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /cannot reach the host's systemd at \/hostnosd\/run\/systemd\/private \(ENOENT\).*nothing was changed/);
    assert.equal(snapshotDiff(snap, await node.snapshot()), '');
  });
});

describe('hostpatch on a systemd node: unknown layout', function () {
  this.timeout(120_000);
  let node: TestNode;
  before(async () => {
    node = await TestNode.boot('unknown');
    await node.startImagegate();
  });
  after(async () => node?.remove());

  it('refuses, says why, and changes nothing', async () => {
    const snap = await node.snapshot();
    const unit = await node.unit('kubelet.service', ['InvocationID']);
    const r = await node.hostpatch(['apply', '--kubelet-version', '1.30', '--wait', '5s']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /refused: unknown kubelet layout.*nothing was changed/);
    assert.equal(snapshotDiff(snap, await node.snapshot()), '');
    assert.deepEqual(await node.unit('kubelet.service', ['InvocationID']), unit);
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
}
