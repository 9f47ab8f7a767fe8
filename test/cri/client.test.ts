import assert from 'node:assert/strict';
import { DockerBackend } from '../../src/cri/docker/backend';
import { parseDockerHost } from '../../src/cri/docker/engine';
import { runCli } from '../support/cri-cli';
import { TestImagegate } from '../support/cri-server';
import { requireTcp, requireUnixSocket, services, testImages } from '../../testing/services';

/** The `imagegate images | pull | inspecti | rmi | imagefsinfo` client, as a real process against real endpoints. */
describe('CRI client commands', function () {
  this.timeout(120_000);
  let gate: TestImagegate;
  const cli = (...args: string[]) => runCli([...args, '--image-endpoint', gate.endpoint]);
  const busybox = `${services.registryOpen}/${testImages.busybox}`;
  const authed = `${services.registryHtpasswd}/${testImages.auth}`;

  before(async () => {
    await requireUnixSocket('Docker Engine', services.dockerSocket);
    await requireTcp('docker-registry (htpasswd)', services.registryHtpasswd);
    gate = await TestImagegate.start(new DockerBackend({ endpoint: parseDockerHost(`unix://${services.dockerSocket}`)!, pullProgressTimeoutMs: 60_000 }));
  });
  after(async () => {
    await gate?.stop();
  });

  it('pull prints the image ref (JSON with -o json), with no spinner when stdout is not a terminal', async () => {
    const table = await cli('pull', busybox);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^Image is up to date for sha256:[0-9a-f]{64}\n$/);
    const json = await cli('pull', busybox, '-o', 'json');
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.image, busybox);
    assert.equal(parsed.imageRef, (await gate.call('ImageStatus', { image: { image: busybox } })).image.id);
  });

  it('pull --creds USER:PASS authenticates; without it the error names the registry and exits 1', async () => {
    const ok = await cli('pull', authed, '--creds', `${services.htpasswdUser}:${services.htpasswdPassword}`);
    assert.equal(ok.code, 0, ok.stderr);
    const denied = await cli('pull', authed);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /^imagegate: PullImage on unix:\/\/.*credentials rejected by registry 127\.0\.0\.1:5001/);
  });

  it('images lists a table, IDs with -q, JSON with -o json, and filters by reference', async () => {
    await cli('pull', busybox);
    const table = await cli('images', busybox);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^IMAGE\s+TAG\s+IMAGE ID\s+SIZE$/);
    assert.ok(lines.some((line) => new RegExp(`^${services.registryOpen}/test/busybox\\s+1\\s+[0-9a-f]{13}\\s+\\d`).test(line)), table.stdout);
    const id = (await gate.call('ImageStatus', { image: { image: busybox } })).image.id;
    assert.equal((await cli('images', '-q', busybox)).stdout, `${id}\n`);
    const json = JSON.parse((await cli('images', '-o', 'json', busybox)).stdout);
    assert.deepEqual(json.images.map((image: { id: string }) => image.id), [id]);
    assert.match((await cli('images', '-v', busybox)).stdout, /^IMAGE\s+TAG\s+DIGEST\s+IMAGE ID\s+SIZE/);
  });

  it('inspecti shows the status (JSON with the verbose info parsed), and exits 1 for an absent image', async () => {
    await cli('pull', `${services.registryOpen}/${testImages.userName}`);
    const json = await cli('inspecti', '-o', 'json', `${services.registryOpen}/${testImages.userName}`);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.status.username, 'www-data');
    assert.equal(typeof parsed.info.info, 'object');
    const table = await cli('inspecti', `${services.registryOpen}/${testImages.userName}`);
    assert.match(table.stdout, /user\s+www-data/);
    const absent = await cli('inspecti', `${services.registryOpen}/test/never-pushed:1`);
    assert.equal(absent.code, 1);
    assert.match(absent.stderr, /no such image/);
  });

  it('rmi removes an image and says so; a second rmi exits 1', async () => {
    const image = `${services.registryOpen}/${testImages.remove[0]}`;
    await cli('pull', image);
    const removed = await cli('rmi', image);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, `Deleted: ${image}\n`);
    assert.equal((await gate.call('ImageStatus', { image: { image } })).image, null);
    assert.equal((await cli('rmi', image)).code, 1);
  });

  it('imagefsinfo prints a table and JSON', async () => {
    const table = await cli('imagefsinfo');
    assert.match(table.stdout, /^FILESYSTEM\s+MOUNTPOINT\s+USED\s+INODES USED\nimage\s+\//);
    const json = JSON.parse((await cli('imagefsinfo', '-o', 'json')).stdout);
    assert.ok(json.imageFilesystems[0].fsId.mountpoint.startsWith('/'));
  });

  it("works against containerd's own CRI image endpoint too", async () => {
    await requireUnixSocket('containerd (CRI)', services.containerdSocket);
    const result = await runCli(['imagefsinfo', '-o', 'json', '--image-endpoint', `unix://${services.containerdSocket}`]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(JSON.parse(result.stdout).imageFilesystems[0].fsId.mountpoint.startsWith('/'));
    const images = await runCli(['images', '-o', 'json', '--image-endpoint', `unix://${services.containerdSocket}`]);
    assert.equal(images.code, 0, images.stderr);
    assert.ok(Array.isArray(JSON.parse(images.stdout).images));
  });

  it('exits 1 naming the endpoint, why it is unreachable and what to try when nothing answers there, and 2 for bad flags', async () => {
    const down = await runCli(['images', '--image-endpoint', 'unix:///nonexistent/imagegate.sock', '--timeout', '3s']);
    assert.equal(down.code, 1);
    assert.equal(
      down.stderr,
      'imagegate: cannot reach the image endpoint unix:///nonexistent/imagegate.sock (no socket at that path); is the image service running there? ' +
        'Name another with -i (e.g. -i unix:///run/containerd/containerd.sock) or IMAGE_SERVICE_ENDPOINT\n',
    );
    const bad = await runCli(['pull', busybox, '--creds', 'no-colon', '--image-endpoint', gate.endpoint]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^imagegate: --creds: use USER:PASS/);
    const missing = await runCli(['pull', '--image-endpoint', gate.endpoint]);
    assert.equal(missing.code, 2);
  });
});
