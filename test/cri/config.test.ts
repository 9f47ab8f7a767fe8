import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadImageServiceConfig } from '../../src/cri/config';
import { runCli } from '../support/cri-cli';

describe('image-service configuration', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imagegate-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('has the documented defaults', () => {
    const { config } = loadImageServiceConfig([], {});
    assert.equal(config.socket, '/run/imagegate/imagegate.sock');
    assert.equal(config.socketMode, 0o660);
    assert.equal(config.backend, 'docker');
    assert.equal(config.dockerHost, 'unix:///var/run/docker.sock');
    assert.deepEqual(config.pinnedImages, []);
    assert.equal(config.pullProgressTimeout, 60_000);
    assert.equal(config.gracePeriod, 30_000);
    assert.deepEqual(config.metricsListen, { host: '127.0.0.1', port: 9464 });
    assert.equal(config.logLevel, 'info');
    assert.equal(config.credentials, undefined);
  });

  it('takes flags over environment over the YAML file', () => {
    const file = join(dir, 'layers.yaml');
    writeFileSync(file, 'socket: /from/yaml.sock\nsocketMode: "0640"\npullProgressTimeout: 5m\npinnedImages: [registry.k8s.io/pause:3.10]\n');
    const env = { IMAGEGATE_SOCKET: '/from/env.sock', IMAGEGATE_GRACE_PERIOD: '10s' };
    const { config } = loadImageServiceConfig(['--config', file, '--socket', '/from/flag.sock', '--pinned-image', 'busybox,registry.k8s.io/pause:3.9'], env);
    assert.equal(config.socket, '/from/flag.sock');
    assert.equal(config.socketMode, 0o640);
    assert.equal(config.pullProgressTimeout, 300_000);
    assert.equal(config.gracePeriod, 10_000);
    assert.deepEqual(config.pinnedImages, ['busybox', 'registry.k8s.io/pause:3.9']);
  });

  const bad: [string, string[], NodeJS.ProcessEnv, RegExp][] = [
    ['a socket mode that is not octal', ['--socket-mode', '999'], {}, /^imagegate: --socket-mode: not a file mode/],
    ['a duration that is not one', [], { IMAGEGATE_PULL_PROGRESS_TIMEOUT: 'soon' }, /^imagegate: IMAGEGATE_PULL_PROGRESS_TIMEOUT: not a duration/],
    ['a metrics address off loopback', ['--metrics-listen', '0.0.0.0:9464'], {}, /^imagegate: --metrics-listen: must be a loopback address/],
    ['a metrics address on every interface (:port)', ['--metrics-listen', ':9464'], {}, /^imagegate: --metrics-listen: must be a loopback address .* or the node's own IP, not every interface/],
    ['a metrics address on every IPv6 interface', ['--metrics-listen', '[::]:9464'], {}, /^imagegate: --metrics-listen: must be a loopback address/],
    ['a metrics address that is a name, not the node IP', ['--metrics-listen', 'node.example:9464'], {}, /^imagegate: --metrics-listen: must be a loopback address/],
    ['an unknown backend', ['--backend', 'nope'], {}, /^imagegate: --backend: unknown backend "nope" \(known: docker, cri\)/],
    ['a Docker host that is not unix:// or tcp://', ['--docker-host', 'http://127.0.0.1:2375'], {}, /^imagegate: --docker-host: use unix:/],
    ['an invalid pinned image', ['--pinned-image', 'Pause:3.10'], {}, /^imagegate: --pinned-image: .*lowercase/],
    ['a relative socket path', [], { IMAGEGATE_SOCKET: 'imagegate.sock' }, /^imagegate: IMAGEGATE_SOCKET: must be an absolute path/],
    ['an unknown flag', ['--nope'], {}, /^imagegate: --nope: /],
    ['an unknown log level', ['--log-level', 'loud'], {}, /^imagegate: --log-level: /],
  ];
  // Where a server would listen if a bad value slipped through validation: never the machine's real socket or port.
  const safe = ['--metrics-listen', '127.0.0.1:0'];
  it("takes the node's own IP for the metrics listener (Prometheus on a hostNetwork pod), as the metrics component sets it", () => {
    assert.deepEqual(loadImageServiceConfig([], { IMAGEGATE_METRICS_LISTEN: '10.0.3.17:9464' }).config.metricsListen, { host: '10.0.3.17', port: 9464 });
    assert.deepEqual(loadImageServiceConfig(['--metrics-listen', '[fd00::17]:9464'], {}).config.metricsListen, { host: 'fd00::17', port: 9464 });
  });

  for (const [what, args, env, expected] of bad) {
    it(`exits 2 with one line naming the setting for ${what}`, async () => {
      const { code, stderr } = await runCli(['image-service', ...safe, ...args], { IMAGEGATE_SOCKET: join(dir, 'never.sock'), ...env }, 15_000);
      assert.equal(code, 2, stderr);
      assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
      assert.match(stderr, expected);
    });
  }

  it('names the YAML path of a bad value in the file', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, `socket: ${join(dir, 'never.sock')}\nmetricsListen: 127.0.0.1:0\npinnedImages:\n  - registry.k8s.io/pause:3.10\n  - "pause@sha256:abc"\n`);
    const { code, stderr } = await runCli(['image-service', '--config', file], {}, 15_000);
    assert.equal(code, 2);
    assert.match(stderr, /^imagegate: pinnedImages\[1\]: .*digest/);
  });

  it('prints its flags with --help and exits 0', async () => {
    const { code, stdout } = await runCli(['image-service', '--help']);
    assert.equal(code, 0);
    for (const flag of ['--socket', '--socket-mode', '--backend', '--docker-host', '--pinned-image', '--pull-progress-timeout', '--grace-period', '--metrics-listen', '--log-level', '--config']) {
      assert.ok(stdout.includes(flag), `${flag} in help`);
    }
  });
});
