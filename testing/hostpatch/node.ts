/**
 * A systemd "node" for the hostpatch tests: the image made by
 * .ci/services/50-systemd-node.sh booted with systemd as PID 1 in a Docker
 * container with no network but loopback, the repository (at its own path) and
 * the host's node binary mounted read-only, and one kubelet layout laid out in it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { goCriClientBinary } from '../go-cri-client';
import { services } from '../services';
import { layoutFiles, REPO, type FileSet, type TestLayout } from './layouts';

const run = promisify(execFile);
export const NODE_IMAGE = process.env.IMAGEGATE_NODE_IMAGE || 'imagegate-ci/systemd-node:bookworm';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Host directories whose files the patcher must leave byte-identical (plus /run, where it owns files). */
const SNAPSHOT_DIRS = [
  '/etc/systemd', '/etc/default', '/etc/eks', '/etc/kubernetes', '/home/kubernetes', '/usr/lib/systemd/system', '/usr/bin/kubelet',
  '/var/lib/kubelet', '/opt', '/run/systemd/system', '/run/imagegate',
];

/** Lines present in only one of two snapshots ('' when they are equal). */
export function snapshotDiff(before: string, after: string): string {
  const a = new Set(before.split('\n'));
  const b = new Set(after.split('\n'));
  return [...[...a].filter((l) => !b.has(l)).map((l) => `- ${l}`), ...[...b].filter((l) => !a.has(l)).map((l) => `+ ${l}`)].join('\n');
}

/** The command line that runs `imagegate hostpatch` inside a node. */
export const HOSTPATCH_CLI = `/usr/bin/node ${REPO}/node_modules/tsx/dist/cli.mjs ${REPO}/testing/hostpatch/fixtures/hostpatch-cli.ts`;

export class TestNode {
  private constructor(readonly name: string) {}

  /**
   * Boots a node, lays out `layout`, starts the stand-in containerd and kubelet and waits until kubelet is healthy.
   * The stand-in kubelet behaves as `kubeletVersion` (1.30 by default), down to how it dials its image endpoint.
   */
  static async boot(layout: TestLayout, kubeletVersion?: string): Promise<TestNode> {
    if (/\s/.test(REPO)) throw new Error(`the node tests write the repository path into unit files; it must not contain spaces: ${REPO}`);
    await docker(['image', 'inspect', NODE_IMAGE]).catch(() => {
      throw new Error(`systemd node image ${NODE_IMAGE} is missing; .ci/services/50-systemd-node.sh builds it`);
    });
    const dockerRoot = (await docker(['info', '--format', '{{.DockerRootDir}}'])).trim() || '/var/lib/docker';
    const name = `imagegate-node-${layout}-${process.pid}-${Math.random().toString(36).slice(2, 7)}`;
    await docker([
      'run', '-d', '--name', name, '--hostname', name.slice(0, 63), '--network', 'none', '--stop-signal', 'SIGRTMIN+3',
      '--cap-add', 'ALL', '--cap-drop', 'SYS_RESOURCE', '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined',
      '--cgroupns=host', '-v', '/sys/fs/cgroup:/sys/fs/cgroup:rw', '--tmpfs', '/run', '--tmpfs', '/run/lock',
      '-v', `${REPO}:${REPO}:ro`, '-v', `${realpathSync(process.execPath)}:/usr/bin/node:ro`,
      // The host's Docker Engine for imagegate's Docker backend (not under /run, which is a tmpfs in the node),
      // and its root dir, which ImageFsInfo measures (the DaemonSet's docker variant mounts it the same way).
      '-v', `${services.dockerSocket}:/docker.sock`, '-v', `${dockerRoot}:${dockerRoot}:ro`,
      NODE_IMAGE, '/sbin/init',
    ]);
    const node = new TestNode(name);
    await node.waitBooted();
    // The stand-in kubelet validates its image endpoint with kubelet's own client library (grpc-go).
    await docker(['cp', await goCriClientBinary(), `${name}:/usr/local/bin/cri-go-client`]);
    const staging = mkdtempSync(join(tmpdir(), 'imagegate-layout-'));
    try {
      const files: FileSet = { ...layoutFiles(layout), ...(kubeletVersion ? { '/etc/standin-kubelet/version': { content: `${kubeletVersion}\n` } } : {}) };
      for (const [path, file] of Object.entries(files)) {
        mkdirSync(join(staging, dirname(path)), { recursive: true });
        writeFileSync(join(staging, path), file.content, { mode: file.executable ? 0o755 : 0o644 });
      }
      await docker(['cp', `${staging}/.`, `${name}:/`]);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
    await node.must('systemctl daemon-reload && systemctl enable -q containerd.service kubelet.service && systemctl start containerd.service kubelet.service');
    await node.waitHealthy(30_000);
    return node;
  }

  /** Runs a shell command in the node. */
  async sh(script: string, timeoutMs = 120_000): Promise<ExecResult> {
    try {
      const { stdout, stderr } = await run('docker', ['exec', this.name, 'sh', '-c', script], { timeout: timeoutMs, maxBuffer: 16 << 20 });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
      if (typeof e.code !== 'number') throw err;
      return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  /** Runs a shell command and fails with its output when it exits non-zero. */
  async must(script: string): Promise<string> {
    const r = await this.sh(script);
    if (r.code !== 0) throw new Error(`in ${this.name}: ${script} → exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /** `imagegate hostpatch <args>` run inside the node, as the DaemonSet's patcher sees the host. */
  hostpatch(args: string[]): Promise<ExecResult> {
    const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    return this.sh(`cd /tmp && IMAGEGATE_LOG_LEVEL=info ${HOSTPATCH_CLI} ${quoted}`, 300_000);
  }

  /** Starts imagegate's image service (the DaemonSet pod's sidecar) and waits for its socket. */
  async startImagegate(): Promise<void> {
    await this.must('systemctl start imagegate-test.service');
    await this.must('for i in $(seq 1 300); do [ -S /run/imagegate/imagegate.sock ] && exit 0; sleep 0.1; done; journalctl -u imagegate-test --no-pager | tail -5 >&2; exit 1');
  }

  /** What the stand-in kubelet recorded at its last successful start. */
  async kubelet(): Promise<{ endpoint: string; answeredBy: string; config?: string; args: string[] }> {
    return JSON.parse(await this.must('cat /run/standin-kubelet/state.json'));
  }

  async unit(unit: string, props: string[]): Promise<Record<string, string>> {
    const out = await this.must(`systemctl show ${unit} ${props.map((p) => `-p ${p}`).join(' ')}`);
    return Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  }

  /** True when kubelet answers `ok` on 127.0.0.1:10248/healthz inside the node. */
  async healthy(): Promise<boolean> {
    const r = await this.sh(`/usr/bin/node -e "require('http').get('http://127.0.0.1:10248/healthz',r=>{let b='';r.on('data',c=>b+=c);r.on('end',()=>process.exit(r.statusCode===200&&b==='ok'?0:1))}).on('error',()=>process.exit(1))"`);
    return r.code === 0;
  }

  /** Waits (bounded) until kubelet is healthy; fails with kubelet's journal otherwise. */
  async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await this.healthy()) return;
      await sleep(500);
    }
    const journal = await this.sh('journalctl -u kubelet -n 20 --no-pager');
    throw new Error(`kubelet in ${this.name} not healthy after ${timeoutMs} ms:\n${journal.stdout}`);
  }

  /** Paths and SHA-256 sums of every file and directory the patcher could touch, as one text. */
  async snapshot(): Promise<string> {
    return this.must(`find ${SNAPSHOT_DIRS.join(' ')} -xdev \\( -type f -o -type d -o -type l \\) 2>/dev/null | sort | while read -r p; do if [ -f "$p" ]; then sha256sum "$p"; else echo "dir-or-link $p"; fi; done`);
  }

  /** A clean reboot: systemd shuts down (SIGRTMIN+3), the container starts again with an empty /run. */
  async reboot(): Promise<void> {
    await docker(['stop', '-t', '30', this.name]);
    await docker(['start', this.name]);
    await this.waitBooted();
  }

  async remove(): Promise<void> {
    await docker(['rm', '-f', this.name]).catch(() => undefined);
  }

  private async waitBooted(): Promise<void> {
    let state = '';
    for (let i = 0; i < 60; i++) {
      state = (await this.sh('systemctl is-system-running').catch(() => ({ stdout: '' }))).stdout.trim();
      if (state === 'running' || state === 'degraded') return;
      await sleep(500);
    }
    throw new Error(`systemd in ${this.name} did not finish booting (is-system-running: ${state || 'no answer'})`);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function docker(args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { timeout: 120_000, maxBuffer: 16 << 20 });
  return stdout;
}
