/**
 * Builds the Dockerfile with the real Docker Engine on locally made Node 24
 * bases (make-bases.sh: no registry is reachable here), then runs the image:
 * `--version`, the OCI labels and user, and a smoke test — `imagegate
 * image-service` on a socket in a volume, answering ImageFsInfo (through the
 * host's Docker Engine) to `imagegate hostpatch probe` in a second container.
 * The legacy builder is used (no buildx here), so only the machine's own
 * architecture is built; the Dockerfile itself is arch-neutral.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { services } from '../../testing/services';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const TAG = 'imagegate-test/imagegate:ci';
const BUILDER = 'imagegate-ci/node24-builder:local';
const BASE = 'imagegate-ci/distroless-node24:local';
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

async function docker(args: string[], timeoutMs = 120_000): Promise<string> {
  const { stdout } = await run('docker', args, { timeout: timeoutMs, maxBuffer: 32 << 20 });
  return stdout;
}

describe('install: the container image', function () {
  this.timeout(900_000);
  const volume = `imagegate-test-sock-${process.pid}`;
  const server = `imagegate-test-image-service-${process.pid}`;
  let revision: string;

  before(async () => {
    revision = (await run('git', ['rev-parse', 'HEAD'], { cwd: ROOT }).catch(() => ({ stdout: 'unknown' }))).stdout.trim();
    await run('bash', [join(__dirname, 'make-bases.sh'), BUILDER, BASE], { timeout: 600_000 });
    await docker(['build', '-q', '-t', TAG, '--build-arg', `BUILDER_IMAGE=${BUILDER}`, '--build-arg', `BASE_IMAGE=${BASE}`,
      '--build-arg', `VERSION=${VERSION}`, '--build-arg', `REVISION=${revision}`, ROOT], 840_000);
  });
  after(async () => {
    await docker(['rm', '-f', server]).catch(() => undefined);
    await docker(['volume', 'rm', '-f', volume]).catch(() => undefined);
  });

  it('prints its version', async () => {
    assert.equal((await docker(['run', '--rm', TAG, '--version'])).trim(), `imagegate ${VERSION}`);
  });

  it('runs on Node.js 24 LTS, and the Dockerfile pins Node 24 bases by digest', async () => {
    const version = (await docker(['run', '--rm', '--entrypoint', '/nodejs/bin/node', TAG, '--version'])).trim();
    assert.match(version, /^v24\./);
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^ARG BUILDER_IMAGE=node:24-bookworm-slim@sha256:[0-9a-f]{64}$/m);
    assert.match(dockerfile, /^ARG BASE_IMAGE=gcr\.io\/distroless\/nodejs24-debian12:nonroot@sha256:[0-9a-f]{64}$/m);
  });

  it('runs as 65532 with entrypoint imagegate and the OCI labels', async () => {
    const config = JSON.parse(await docker(['image', 'inspect', TAG, '--format', '{{json .Config}}'])) as { User: string; Entrypoint: string[]; Labels: Record<string, string> };
    assert.equal(config.User, '65532:65532');
    assert.deepEqual(config.Entrypoint, ['/usr/local/bin/imagegate']);
    assert.equal(config.Labels['org.opencontainers.image.title'], 'imagegate');
    assert.equal(config.Labels['org.opencontainers.image.version'], VERSION);
    assert.equal(config.Labels['org.opencontainers.image.revision'], revision);
    assert.equal(config.Labels['org.opencontainers.image.licenses'], 'Apache-2.0');
    assert.ok(config.Labels['org.opencontainers.image.source']);
  });

  it('holds production dependencies only, no native add-ons in node_modules, no shell', async () => {
    const files = await docker(['run', '--rm', '--entrypoint', '/nodejs/bin/node', TAG, '-e',
      "const fs=require('fs');console.log(JSON.stringify({mocha:fs.existsSync('/app/node_modules/mocha'),typescript:fs.existsSync('/app/node_modules/typescript'),grpc:fs.existsSync('/app/node_modules/@grpc/grpc-js'),sh:fs.existsSync('/bin/sh'),native:fs.readdirSync('/app/node_modules',{recursive:true}).filter(f=>String(f).endsWith('.node')).length}))"]);
    assert.deepEqual(JSON.parse(files), { mocha: false, typescript: false, grpc: true, sh: false, native: 0 });
  });

  it('carries the self-contained credential provider executable, which runs without the image\'s Node.js', async () => {
    const out = await docker(['run', '--rm', '--entrypoint', '/app/credential-provider/imagegate-credential-provider', TAG, 'version']);
    assert.equal(out.trim(), `imagegate-credential-provider ${VERSION}`);
  });

  it("carries the registry facade's native add-on, which loads, and its user may put a thread in SCHED_IDLE under Docker's seccomp profile", async () => {
    const out = await docker(['run', '--rm', '--entrypoint', '/nodejs/bin/node', TAG, '-e', "const n=require('/app/dist/src/registry/native.js').native;console.log(n.available?n.addon.idleThread():n.reason)"]);
    assert.equal(out.trim(), 'true');
  });

  it('smoke: image-service answers ImageFsInfo on a socket in a volume', async () => {
    await docker(['volume', 'create', volume]);
    const dockerRoot = (await docker(['info', '--format', '{{.DockerRootDir}}'])).trim();
    // The runtime socket is root-only, as on a node: the image service runs as root here, as in the DaemonSet.
    await docker(['run', '-d', '--name', server, '--user', '0:0', '-v', `${volume}:/run/imagegate`,
      '-v', `${services.dockerSocket}:/var/run/docker.sock`, '-v', `${dockerRoot}:${dockerRoot}:ro`,
      TAG, 'image-service', '--socket', '/run/imagegate/imagegate.sock', '--docker-host', 'unix:///var/run/docker.sock']);
    let out = '';
    for (let i = 0; i < 60 && !out.includes('answers'); i++) {
      out = await docker(['run', '--rm', '--user', '0:0', '-v', `${volume}:/run/imagegate`, TAG, 'hostpatch', 'probe']).catch(() => '');
      if (!out.includes('answers')) await new Promise((r) => setTimeout(r, 500));
    }
    assert.match(out, /imagegate answers ImageFsInfo on \/run\/imagegate\/imagegate.sock/, await docker(['logs', server]).catch(() => ''));
  });
});
