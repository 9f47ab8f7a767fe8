/**
 * The self-contained executable on a host with no Node.js: the systemd node
 * image (Debian bookworm with systemd, dbus and libstdc++ only) run with
 * Docker, no network, the executable mounted in.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { NODE_IMAGE } from '../../testing/hostpatch/node';
import { requireUnixSocket, services } from '../../testing/services';
import { checkResponse, V1 } from './support/kubelet-api';
import { buildExecutable } from '../../src/credential-provider/build';
import { pluginExecutable } from '../../testing/credential-provider/plugin';

const run = promisify(execFile);
const BIN = '/usr/libexec/kubernetes/kubelet-plugins/credential-provider/exec/imagegate-credential-provider';

/** `docker run` of the node image with the executable, a config dir, stdin piped in. */
function inNode(executable: string, dir: string, args: string[], stdin: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', ['run', '--rm', '-i', '--network', 'none', '-v', `${executable}:${BIN}:ro`, '-v', `${dir}:/etc/imagegate:ro`, '--entrypoint', BIN, NODE_IMAGE, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

describe('credential-provider executable on a host without Node.js', function () {
  this.timeout(180_000);

  it('is built without leaving postject’s rethrowing error handlers in the building process', async () => {
    const count = () => process.listenerCount('uncaughtException') + process.listenerCount('unhandledRejection');
    const before = count();
    const dir = mkdtempSync(join(tmpdir(), 'imagegate-sea-'));
    try {
      await buildExecutable(join(dir, 'imagegate-credential-provider'));
      assert.equal(count(), before, 'a test run or the image build keeps its own handling of uncaught errors');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  let executable: string;
  let dir: string;

  before(async () => {
    await requireUnixSocket('Docker Engine', services.dockerSocket);
    await run('docker', ['image', 'inspect', NODE_IMAGE]).catch(() => {
      throw new Error(`systemd node image ${NODE_IMAGE} is missing; .ci/services/50-systemd-node.sh builds it`);
    });
    executable = await pluginExecutable();
    dir = mkdtempSync(join(tmpdir(), 'imagegate-credprov-exe-'));
    writeFileSync(join(dir, 'docker.json'), JSON.stringify({ auths: { 'registry.example:5443': { username: 'robot', password: 'robot-pass' } } }));
    writeFileSync(join(dir, 'config.yaml'), YAML.stringify({
      credentials: { rules: [{ name: 'static', match: { registry: 'registry.example:5443' }, provider: 'static', with: { file: '/etc/imagegate/docker.json' } }] },
    }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the node image has no node binary', async () => {
    const { stdout } = await run('docker', ['run', '--rm', '--network', 'none', '--entrypoint', 'sh', NODE_IMAGE, '-c', 'command -v node nodejs; ls /usr/bin/node* /usr/local/bin/node* 2>/dev/null; echo end']);
    assert.equal(stdout.trim(), 'end');
  });

  it('answers a request there (settings from YAML, rules, the static provider)', async () => {
    const req = { apiVersion: V1, kind: 'CredentialProviderRequest', image: 'registry.example:5443/team/app:1' };
    const r = await inNode(executable, dir, ['--config', '/etc/imagegate/config.yaml', '--agent-socket', '/run/imagegate/credential-provider.sock'], JSON.stringify(req));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.deepEqual(checkResponse(r.stdout, req).auth, { 'registry.example:5443': { username: 'robot', password: 'robot-pass' } });
  });

  it('reports bad input and bad settings there as one line', async () => {
    const bad = await inNode(executable, dir, ['--agent-socket', ''], '{"apiVersion":"credentialprovider.kubelet.k8s.io/v9"}');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^imagegate credential-provider: apiVersion: "credentialprovider\.kubelet\.k8s\.io\/v9" is not supported/);
    const setting = await inNode(executable, dir, ['--config', '/etc/imagegate/missing.yaml'], '{}');
    assert.equal(setting.code, 2);
    assert.equal(setting.stderr, 'imagegate credential-provider: --config: cannot read /etc/imagegate/missing.yaml: ENOENT\n');
  });
});
