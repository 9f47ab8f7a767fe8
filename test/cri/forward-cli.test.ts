import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CriTestClient } from '../support/containerd';
import { runCli, startCli, waitForSocket, type Running } from '../support/cri-cli';
import { requireTcp, requireUnixSocket, services, testImages } from '../../testing/services';

describe('imagegate image-service --backend cri (the real CLI in front of the real containerd)', function () {
  this.timeout(90_000);
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-cri-cli-'));
  let running: Running | undefined;

  before(async () => {
    await requireUnixSocket('containerd (CRI)', services.containerdSocket);
    await requireTcp('open registry', services.registryOpen);
  });
  afterEach(async () => {
    if (running && running.child.exitCode === null) {
      running.child.kill('SIGTERM');
      await running.exited;
    }
    running = undefined;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function serveAndCheck(args: string[], socket: string): Promise<void> {
    running = startCli(['image-service', ...args]);
    await waitForSocket(running, socket);
    const gate = new CriTestClient(`unix://${socket}`);
    const direct = new CriTestClient(`unix://${services.containerdSocket}`);
    try {
      const image = `${services.registryOpen}/${testImages.userName}`;
      const { imageRef } = await gate.call('pullImage', { image: { image } });
      assert.equal((await direct.call('imageStatus', { image: { image } })).image?.id, imageRef, 'the image is in containerd');
      const fs = (await gate.call('imageFsInfo', {})).imageFilesystems[0];
      assert.equal(fs.fsId?.mountpoint, (await direct.call('imageFsInfo', {})).imageFilesystems[0].fsId?.mountpoint);
    } finally {
      gate.close();
      direct.close();
    }
    running.child.kill('SIGTERM');
    assert.equal(await running.exited, 0);
    assert.match(running.stderr(), /"backend":"cri"/);
  }

  it('serves from flags', async () => {
    const socket = join(dir, 'flags.sock');
    await serveAndCheck(
      ['--socket', socket, '--backend', 'cri', '--cri-endpoint', `unix://${services.containerdSocket}`, '--metrics-listen', '127.0.0.1:0'],
      socket,
    );
  });

  it('serves from a YAML file', async () => {
    const socket = join(dir, 'yaml.sock');
    const file = join(dir, 'imagegate.yaml');
    writeFileSync(file, `socket: ${socket}\nbackend: cri\ncriEndpoint: ${services.containerdSocket}\nmetricsListen: 127.0.0.1:0\n`);
    await serveAndCheck(['--config', file], socket);
  });

  it('exits 2 with one line naming --cri-endpoint when it is not a CRI endpoint', async () => {
    const { code, stderr } = await runCli(['image-service', '--backend', 'cri', '--cri-endpoint', 'http://127.0.0.1:1234']);
    assert.equal(code, 2);
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
    assert.match(stderr, /--cri-endpoint: must be unix:\/\/\/path\/to\/socket or tcp:\/\/host:port/);
  });
});
