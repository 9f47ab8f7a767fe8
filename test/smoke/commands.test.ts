/**
 * A smoke run of every command of the compiled CLI (`npm run build`, then
 * `node bin/imagegate …` as `npx imagegate` runs it) on the Node.js that runs
 * this test. CI runs the whole suite on Node 24 (the image's) and this file
 * again on the machine's Node 20 (.ci/run), so both stay working:
 * `--help` for the CLI and each command, and each long-running command
 * started until it is ready, asked one real question, and stopped with
 * SIGTERM (exit 0): `serve`, `image-service` (Docker Engine backend) with the
 * client commands and `hostpatch probe` against it, `registry`,
 * `outbound-proxy`, and the `credential-provider` plugin answering kubelet's
 * request.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { commands } from '../../bin/commands';
import { buildCli } from '../outbound/support/proxy-process';
import { requireUnixSocket, services } from '../../testing/services';
import { upstreams } from '../../testing/registry/upstreams';

const ROOT = resolve(__dirname, '../..');
const BIN = join(ROOT, 'bin/imagegate');
/** PATH and HOME only, so no stray setting of the test run leaks in. */
const BASE_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', IMAGEGATE_LOG_LEVEL: 'info' };

interface Child {
  child: ChildProcess;
  output: () => string;
  stdout: () => string;
  exited: Promise<number>;
}

function start(args: string[], env: Record<string, string> = {}, input?: string): Child {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...BASE_ENV, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => ((out += d.toString()), (stdout += d.toString())));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin!.end(input);
  const exited = new Promise<number>((r) => child.once('exit', (code, signal) => r(code ?? (signal === 'SIGTERM' ? 143 : 137))));
  return { child, output: () => out, stdout: () => stdout, exited };
}

async function runToEnd(args: string[], env: Record<string, string> = {}, input?: string, timeoutMs = 60_000): Promise<{ code: number; output: string; stdout: string }> {
  const c = start(args, env, input);
  const timer = setTimeout(() => c.child.kill('SIGKILL'), timeoutMs);
  const code = await c.exited;
  clearTimeout(timer);
  return { code, output: c.output(), stdout: c.stdout() };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** Waits until `url` answers 200 (at most `timeoutMs`), failing with the child's output if it exits first. */
async function ready(c: Child, url: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let exited = false;
  void c.exited.then(() => (exited = true));
  while (Date.now() < until && !exited) {
    const status = await fetch(url, { signal: AbortSignal.timeout(2000) }).then((r) => r.status, () => 0);
    if (status === 200) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`${url} never answered 200${exited ? ' (the process exited)' : ''}:\n${c.output().slice(-3000)}`);
}

async function stop(c: Child): Promise<void> {
  c.child.kill('SIGTERM');
  const timer = setTimeout(() => c.child.kill('SIGKILL'), 40_000);
  const code = await c.exited;
  clearTimeout(timer);
  assert.equal(code, 0, `exit on SIGTERM:\n${c.output().slice(-3000)}`);
}

describe(`smoke: every command of the compiled CLI on Node ${process.versions.node}`, function () {
  this.timeout(300_000);
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-smoke-'));
  const running: Child[] = [];

  before(() => buildCli());
  after(() => {
    for (const c of running) c.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('imagegate --help lists every command; --version prints the version', async () => {
    const help = await runToEnd(['--help']);
    assert.equal(help.code, 0, help.output);
    for (const c of commands) assert.match(help.output, new RegExp(`\\b${c.name}\\b`), `--help names ${c.name}`);
    const version = await runToEnd(['--version']);
    assert.match(version.output.trim(), /^imagegate \d+\.\d+\.\d+/);
  });

  it('every command answers --help with exit 0', async () => {
    for (const c of commands) {
      const args = c.name === 'hostpatch' ? ['hostpatch', 'status', '--help'] : [c.name, '--help'];
      const out = await runToEnd(args);
      assert.equal(out.code, 0, `${args.join(' ')}: ${out.output}`);
      assert.match(out.output, /usage|--/i, `${args.join(' ')} prints its flags`);
    }
  });

  it('image-service (Docker Engine backend) becomes ready; imagefsinfo, images and hostpatch probe ask it; SIGTERM ends it', async () => {
    await requireUnixSocket('Docker Engine', services.dockerSocket);
    const socket = join(dir, 'image-service.sock');
    const metrics = await freePort();
    const c = start(['image-service', '--socket', socket, '--docker-host', `unix://${services.dockerSocket}`, '--metrics-listen', `127.0.0.1:${metrics}`]);
    running.push(c);
    await ready(c, `http://127.0.0.1:${metrics}/readyz`);
    const fs = await runToEnd(['imagefsinfo', '-i', `unix://${socket}`]);
    assert.equal(fs.code, 0, fs.output);
    const images = await runToEnd(['images', '-i', `unix://${socket}`]);
    assert.equal(images.code, 0, images.output);
    const probe = await runToEnd(['hostpatch', 'probe', '--socket', socket]);
    assert.equal(probe.code, 0, probe.output);
    assert.match(probe.output, /imagegate answers ImageFsInfo/);
    await stop(c);
  });

  it('registry becomes ready and challenges a client; SIGTERM ends it', async () => {
    const [listen, metrics] = [await freePort(), await freePort()];
    const config = join(dir, 'registry.yaml');
    writeFileSync(config, `registry:\n  listen: "127.0.0.1:${listen}"\n  metricsListen: "127.0.0.1:${metrics}"\n  upstreams:\n    - name: ci\n      url: http://${upstreams.basic}\n`);
    const c = start(['registry', '--config', config]);
    running.push(c);
    await ready(c, `http://127.0.0.1:${metrics}/readyz`);
    const res = await fetch(`http://127.0.0.1:${listen}/v2/`);
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm=/);
    await stop(c);
  });

  it('serve (image service and facade together) becomes ready; SIGTERM ends both', async () => {
    await requireUnixSocket('Docker Engine', services.dockerSocket);
    const [metrics, listen, registryMetrics] = [await freePort(), await freePort(), await freePort()];
    const c = start(['serve'], {
      IMAGEGATE_SOCKET: join(dir, 'serve.sock'), IMAGEGATE_DOCKER_HOST: `unix://${services.dockerSocket}`, IMAGEGATE_METRICS_LISTEN: `127.0.0.1:${metrics}`,
      IMAGEGATE_REGISTRY_LISTEN: `127.0.0.1:${listen}`, IMAGEGATE_REGISTRY_METRICS_LISTEN: `127.0.0.1:${registryMetrics}`,
    });
    running.push(c);
    await ready(c, `http://127.0.0.1:${metrics}/readyz`);
    await ready(c, `http://127.0.0.1:${registryMetrics}/readyz`);
    await stop(c);
  });

  it('outbound-proxy starts listening with its metrics; SIGTERM ends it', async () => {
    const metrics = await freePort();
    const c = start(['outbound-proxy'], {
      LISTEN_ADDR: '127.0.0.1:0', UPSTREAM_HOST: 'api.example.com', UPSTREAM_SCHEME: 'https', TOKEN_AUDIENCE: 'https://api.example.com',
      AWS_REGION: 'eu-west-1', METRICS_ENABLED: 'true', METRICS_LISTEN_ADDR: `127.0.0.1:${metrics}`,
    });
    running.push(c);
    const until = Date.now() + 60_000;
    while (!c.output().includes('outbound proxy listening') && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    assert.match(c.output(), /outbound proxy listening/);
    const res = await fetch(`http://127.0.0.1:${metrics}/metrics`);
    assert.equal(res.status, 200);
    await stop(c);
  });

  it("credential-provider answers kubelet's CredentialProviderRequest (no rule matches: no credentials, exit 0)", async () => {
    const request = JSON.stringify({ apiVersion: 'credentialprovider.kubelet.k8s.io/v1', kind: 'CredentialProviderRequest', image: 'docker.io/library/busybox:1' });
    const out = await runToEnd(['credential-provider', '--agent-socket', ''], {}, request);
    assert.equal(out.code, 0, out.output);
    const response = JSON.parse(out.stdout) as { kind: string; auth: unknown };
    assert.equal(response.kind, 'CredentialProviderResponse');
    assert.deepEqual(response.auth, {});
  });
});
