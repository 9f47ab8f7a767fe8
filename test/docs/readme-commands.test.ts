/**
 * The README's commands work on a clean clone. The commands are read from the
 * README's blocks marked `<!-- readme-test: quick-start | tests | install -->`
 * (and docs/install.md's `image-override` and `cli`), so an edit there cannot
 * silently break them:
 *
 * - quick-start (`npm ci && npm start`) runs in a `git clone` of this
 *   repository's HEAD: every command but the last as written, with npm told to
 *   work offline from the machine's npm cache (`npm_config_offline=true`; the
 *   cache CI's own `npm ci` filled), so the lockfile must install without the
 *   registry; the last (`npm start`) until the image service answers `/healthz`
 *   and `/readyz` (Docker Engine reachable) and the facade answers `GET /v2/`
 *   with its Bearer challenge, the demo user's password is written, and
 *   `./bin/imagegate images` lists images through the socket; then SIGTERM.
 *   The ports, the socket and the state directory are moved with the
 *   `IMAGEGATE_*` variables the README names, so the run never touches a
 *   server another test or person runs on the defaults.
 * - tests (`npm ci && npm test`) is NOT run here (it would run this suite
 *   inside itself); the test checks that it is what CI runs (`.ci/run`) and
 *   what `npm test` does.
 * - install: every `kubectl kustomize` line runs as written in the clone and
 *   its output is decoded by kubectl and holds the DaemonSet; the lines that
 *   need a cluster (`kubectl apply`, `rollout status`, `get nodes`) are only
 *   checked to be of those known kinds and to use the rendered file.
 * - docs/install.md's image override runs as written (it greps the overridden
 *   image in the rendering), and its CLI lines print the version.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { readDoc, ROOT, testBlocks, type CodeBlock } from '../support/docs';
import { freePort } from '../../testing/ports';
import { requireUnixSocket, services } from '../../testing/services';

/** The commands of a block: its lines without comments, split on `&&`. */
function commands(block: CodeBlock): string[] {
  return block.body
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l && !l.startsWith('#'))
    .flatMap((l) => l.split('&&').map((c) => c.trim()));
}

function sh(command: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 240_000): { stdout: string; stderr: string } {
  const result = spawnSync('bash', ['-euo', 'pipefail', '-c', command], { cwd, env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (result.status !== 0) throw new Error(`\`${command}\` exited ${result.status ?? result.signal}:\n${result.stderr.slice(-4000)}\n${result.stdout.slice(-2000)}`);
  return { stdout: result.stdout, stderr: result.stderr };
}

async function get(url: string): Promise<{ status: number; headers: Headers; body: string } | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, headers: res.headers, body: await res.text() };
  } catch {
    return undefined;
  }
}

describe('README commands on a clean clone', function () {
  this.timeout(300_000);
  const readme = readDoc('README.md');
  const blocks = testBlocks(readme);
  const installBlocks = testBlocks(readDoc('docs/install.md'));
  let work: string;
  let clone: string;
  const env = { ...process.env, npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'imagegate-readme-'));
    clone = join(work, 'imagegate');
    sh(`git clone --quiet ${JSON.stringify(ROOT)} ${JSON.stringify(clone)}`, work, env);
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('has the quick-start, tests and install blocks', () => {
    assert.deepEqual([...blocks.keys()].sort(), ['install', 'quick-start', 'tests']);
    assert.deepEqual([...installBlocks.keys()].sort(), ['cli', 'image-override']);
  });

  it('the test command is what CI runs on a fresh clone, and npm test starts the servers, type checks and runs every spec', () => {
    const test = commands(blocks.get('tests')!);
    assert.deepEqual(test, ['npm ci', 'npm test']);
    const ci = readFileSync(join(clone, '.ci/run'), 'utf8');
    assert.match(ci, /^npm ci\b/m);
    assert.match(ci, /^npm test$/m);
    const script = (JSON.parse(readFileSync(join(clone, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.test;
    assert.match(script, /^bash \.ci\/setup && npm run typecheck && mocha 'test\/\*\*\/\*\.test\.ts'$/);
  });

  it('quick start: npm ci, then npm start answers on its health endpoints', async () => {
    await requireUnixSocket('Docker Engine', services.dockerSocket);
    const steps = commands(blocks.get('quick-start')!);
    assert.ok(steps.length >= 2, 'at least an install and a start command');
    for (const step of steps.slice(0, -1)) sh(step, clone, env);
    assert.ok(existsSync(join(clone, 'node_modules')), 'node_modules installed');

    const [metrics, registry, registryMetrics] = [await freePort(), await freePort(), await freePort()];
    const socket = join(work, 'run', 'imagegate.sock');
    const state = join(work, 'state');
    const startEnv = {
      ...env,
      IMAGEGATE_SOCKET: socket,
      IMAGEGATE_METRICS_LISTEN: `127.0.0.1:${metrics}`,
      IMAGEGATE_DOCKER_HOST: `unix://${services.dockerSocket}`,
      IMAGEGATE_REGISTRY_LISTEN: `127.0.0.1:${registry}`,
      IMAGEGATE_REGISTRY_METRICS_LISTEN: `127.0.0.1:${registryMetrics}`,
      IMAGEGATE_STATE_DIR: state,
    };
    const start = steps[steps.length - 1];
    const child = spawn('bash', ['-c', start], { cwd: clone, env: startEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let exitCode: number | null | undefined;
    void exited.then((code) => (exitCode = code));
    try {
      const deadline = Date.now() + 200_000;
      let up = false;
      while (!up && Date.now() < deadline && exitCode === undefined) {
        const [healthz, readyz, v2] = [await get(`http://127.0.0.1:${metrics}/healthz`), await get(`http://127.0.0.1:${metrics}/readyz`), await get(`http://127.0.0.1:${registry}/v2/`)];
        up = healthz?.status === 200 && readyz?.status === 200 && v2?.status === 401;
        if (!up) await new Promise((r) => setTimeout(r, 500));
      }
      assert.ok(up, `\`${start}\` did not answer its health endpoints (exit ${exitCode}):\n${output.slice(-4000)}`);
      const v2 = await get(`http://127.0.0.1:${registry}/v2/`);
      assert.match(v2!.headers.get('www-authenticate') ?? '', /^Bearer realm=/);
      assert.ok(readFileSync(join(state, 'registry', 'demo-password'), 'utf8').trim().length > 0, 'the demo user has a password');
      const images = spawnSync('./bin/imagegate', ['images', '-i', `unix://${socket}`, '-q'], { cwd: clone, env, encoding: 'utf8', timeout: 30_000 });
      assert.equal(images.status, 0, images.stderr);
      assert.match(images.stdout, /^sha256:[0-9a-f]{64}$/m, 'Docker Engine holds the test images, listed by ID');
    } finally {
      // SIGTERM to the whole group (bash, npm, node), as Ctrl-C in a terminal would; then wait for
      // every process of the group to be gone (npm may exit before node has finished shutting down).
      const alive = () => {
        try {
          process.kill(-child.pid!, 0);
          return true;
        } catch {
          return false;
        }
      };
      if (alive()) process.kill(-child.pid!, 'SIGTERM');
      const deadline = Date.now() + 40_000;
      while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      if (alive()) process.kill(-child.pid!, 'SIGKILL');
      await exited;
    }
    assert.ok(!existsSync(socket), 'the socket is removed on SIGTERM');
  });

  it('docs/install.md: the CLI runs as ./bin/imagegate and npx imagegate (after the build)', () => {
    const version = (JSON.parse(readFileSync(join(clone, 'package.json'), 'utf8')) as { version: string }).version;
    const lines = commands(installBlocks.get('cli')!);
    assert.ok(lines.length >= 2);
    assert.ok(existsSync(join(clone, 'dist')), 'the quick start (its npm start) built dist/ first');
    for (const line of lines) assert.equal(sh(line, clone, env).stdout.trim(), `imagegate ${version}`, line);
  });

  it('install: the kubectl kustomize lines render as written; the other lines are the cluster steps', async () => {
    const lines = commands(blocks.get('install')!);
    const renders = lines.filter((l) => l.startsWith('kubectl kustomize '));
    assert.ok(renders.length >= 1, 'at least one rendering command');
    const cluster = lines.filter((l) => !renders.includes(l));
    for (const line of cluster) assert.match(line, /^kubectl (apply( --dry-run=server)? -f imagegate\.yaml|-n imagegate rollout status daemonset\/imagegate\b.*|get nodes -L imagegate\.dev\/hostpatch)$/, `a command this test does not know: ${line}`);
    for (const line of renders) {
      sh(line, clone, env, 60_000);
      const out = /> (\S+)$/.exec(line)?.[1];
      assert.ok(out, `${line} writes a file`);
      const rendered = readFileSync(join(clone, out), 'utf8');
      const decoded = await new Promise<string>((resolve, reject) => {
        execFile('kubectl', ['label', '--local', '--dry-run=client', '-f', join(clone, out), '-o', 'name', 'imagegate.dev/checked=true'], (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout)));
      });
      assert.match(decoded, /^daemonset\.apps\/imagegate$/m);
      const kinds = YAML.parseAllDocuments(rendered).map((d) => (d.toJS() as { kind: string; metadata: { name: string; namespace?: string } }));
      const ds = kinds.find((o) => o.kind === 'DaemonSet');
      assert.deepEqual([ds?.metadata.name, ds?.metadata.namespace], ['imagegate', 'imagegate']);
    }
  });

  it('docs/install.md: the image override in an overlay of your own renders with kubectl kustomize', () => {
    const block = installBlocks.get('image-override')!;
    const { stdout } = sh(block.body, clone, env, 60_000);
    assert.match(stdout, /image: registry\.example\.com\/platform\/imagegate:0\.1\.0/);
  });
});
