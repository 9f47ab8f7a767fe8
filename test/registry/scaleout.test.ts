/**
 * The facade as a fleet (issue 15): three `imagegate registry` processes on
 * loopback, sharing one config and its keys, behind a real nginx doing round
 * robin, pulled through by the real Docker Engine and by plain HTTP clients.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeProtectedHeader } from 'jose';
import { requireTcp, requireUnixSocket, services } from '../../testing/services';
import { pushBigImage } from './support/big-image';
import { Fleet, writeEcKey } from '../../testing/registry/fleet';
import { type OwnRedis, startOwnRedis } from './support/redis';

const run = promisify(execFile);
const alice = { username: 'alice', password: 'alice-scaleout-pass' };
const basicOf = (u: { username: string; password: string }) => `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}`;
const MANIFEST_ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json';

type KeyEntry = { id: string; file: string; sign?: boolean };

/** The one config every replica runs (the ConfigMap of deploy/registry), with `keys` and extra settings. */
function fleetConfig(keys: KeyEntry[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    metricsListen: '127.0.0.1:0',
    trustProxy: 'loopback',
    token: { keys },
    upstreams: [{ name: 'open', prefix: 'open', url: `http://${services.registryOpen}` }],
    auth: { chain: [{ static: { users: [alice] } }], rules: [{ identity: 'alice', repositories: ['**'] }] },
    // Failed logins answered at once: the budgets are what these tests count, not the delay.
    rateLimit: { failureDelay: 0 },
    ...extra,
  };
}

/**
 * fetch, sending a request once more when the kept-alive connection it went out
 * on was closed before any answer, as Go's http.Transport (Docker's client) does
 * for GET: the test's nginx reloads close idle client connections, which a
 * cluster's Service does not do.
 */
async function getOnce(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code !== 'UND_ERR_SOCKET' && cause?.code !== 'ECONNRESET') throw err;
    return fetch(url, init);
  }
}

async function tokenFrom(url: string, scope = 'repository:open/test/busybox:pull', user = alice): Promise<{ status: number; token?: string }> {
  const res = await getOnce(`${url}/token?service=imagegate-registry&scope=${encodeURIComponent(scope)}`, { headers: { authorization: basicOf(user) } });
  const body = res.ok ? ((await res.json()) as { token: string }) : (await res.arrayBuffer(), undefined);
  return { status: res.status, token: body?.token };
}

async function manifestStatus(url: string, token: string, repository = 'open/test/busybox', ref = '1'): Promise<number> {
  const res = await getOnce(`${url}/v2/${repository}/manifests/${ref}`, { headers: { authorization: `Bearer ${token}`, accept: MANIFEST_ACCEPT } });
  await res.arrayBuffer();
  return res.status;
}

/** Sum of a counter's samples whose labels match. */
function counter(text: string, name: string, labels: RegExp = /.*/): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) && labels.test(l))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

function docker(dockerConfig: string, ...args: string[]) {
  return run('docker', args, { env: { ...process.env, DOCKER_CONFIG: dockerConfig }, maxBuffer: 16 << 20 });
}

describe('registry scale-out: three replicas behind nginx (issue 15)', function () {
  this.timeout(300_000);
  let dir: string;
  before(async () => {
    await requireUnixSocket('Docker Engine', services.dockerSocket);
    await requireTcp('docker-registry (open)', services.registryOpen);
    dir = mkdtempSync(join(tmpdir(), 'imagegate-scaleout-'));
  });
  after(() => (process.env.IMAGEGATE_KEEP_TEST_DIR ? console.log(`kept ${dir}`) : rmSync(dir, { recursive: true, force: true })));

  describe('sharing config and keys', () => {
    let fleet: Fleet;
    let keys: KeyEntry[];
    const images = ['test/busybox:1', 'test/user-uid:1', 'test/multi:a'];
    before(async () => {
      keys = [{ id: 'k1', file: writeEcKey(join(dir, 'shared-k1.pem')), sign: true }];
      fleet = await Fleet.start({ dir: join(dir, 'shared'), replicas: 3, config: () => fleetConfig(keys) });
    });
    after(async () => {
      await fleet?.close();
      for (const i of images) if (fleet) await run('docker', ['image', 'rm', '-f', `${fleet.host}/open/${i}`]).catch(() => undefined);
    });

    it('docker login through the balancer, then pulls spread over all three replicas succeed', async () => {
      const config = join(dir, 'docker-config');
      await run('mkdir', ['-p', config]);
      const { stdout } = await new Promise<{ stdout: string }>((res, rej) => {
        const child = execFile('docker', ['login', '--username', alice.username, '--password-stdin', fleet.host], { env: { ...process.env, DOCKER_CONFIG: config } }, (err, out, errOut) =>
          err ? rej(new Error(`docker login failed: ${errOut}`)) : res({ stdout: out }),
        );
        child.stdin!.end(alice.password);
      });
      assert.match(stdout, /Login Succeeded/);
      const before = await Promise.all([0, 1, 2].map((i) => fleet.metrics(i)));
      for (const image of images) {
        const ref = `${fleet.host}/open/${image}`;
        await run('docker', ['image', 'rm', '-f', ref]).catch(() => undefined);
        await docker(config, 'pull', ref);
        const { stdout: id } = await run('docker', ['image', 'inspect', '--format', '{{.Id}}', ref]);
        assert.match(id.trim(), /^sha256:[a-f0-9]{64}$/);
      }
      const after = await Promise.all([0, 1, 2].map((i) => fleet.metrics(i)));
      const delta = (i: number, route: RegExp) => counter(after[i], 'imagegate_registry_requests_total', route) - counter(before[i], 'imagegate_registry_requests_total', route);
      const issued = [0, 1, 2].map((i) => delta(i, /route="token".*status="200"/));
      const served = [0, 1, 2].map((i) => delta(i, /route="(manifest|blob)".*status="200"/));
      assert.ok(served.reduce((a, b) => a + b) >= images.length, `manifests served: ${served.join(', ')}`);
      assert.ok([0, 1, 2].some((i) => served[i] > 0 && issued[i] === 0), `a replica served pulls with tokens issued by others (tokens ${issued.join(', ')}; pulls ${served.join(', ')})`);
      assert.ok([0, 1, 2].every((i) => issued[i] + served[i] + delta(i, /route="(base|other)"/) > 0), 'every replica took part');
    });

    it('a token issued by replica A is accepted by B and C', async () => {
      const [a, b, c] = fleet.replicas;
      const { status, token } = await tokenFrom(a.url);
      assert.equal(status, 200);
      assert.equal(decodeProtectedHeader(token!).kid, 'k1');
      for (const r of [a, b, c]) assert.equal(await manifestStatus(r.url, token!), 200, r.name);
    });
  });

  describe('replicas dying and stopping mid-pull', () => {
    let fleet: Fleet;
    let big: { layerDigest: string };
    before(async () => {
      big = await pushBigImage(services.registryOpen, 'test/scaleout-big', '1', 64 << 20);
      const keys = [{ id: 'k1', file: writeEcKey(join(dir, 'dying-k1.pem')), sign: true }];
      // 16 MiB/s per client connection: a 64 MiB layer takes about 4 s, long enough to kill its replica mid-way.
      fleet = await Fleet.start({ dir: join(dir, 'dying'), replicas: 3, config: () => fleetConfig(keys, { limits: { shutdownGrace: '60s' } }), limitRate: '16m' });
    });
    after(async () => {
      await fleet?.close();
      if (fleet) await run('docker', ['image', 'rm', '-f', `${fleet.host}/open/test/scaleout-big:1`]).catch(() => undefined);
    });

    it('SIGKILL of the replica streaming a 64 MiB layer to Docker: the pull completes (Docker resumes the blob) and later pulls succeed', async () => {
      const ref = `${fleet.host}/open/test/scaleout-big:1`;
      const config = join(dir, 'docker-config-dying');
      await run('mkdir', ['-p', config]);
      await new Promise<void>((res, rej) => {
        const child = execFile('docker', ['login', '--username', alice.username, '--password-stdin', fleet.host], { env: { ...process.env, DOCKER_CONFIG: config } }, (err, _o, e) => (err ? rej(new Error(e)) : res()));
        child.stdin!.end(alice.password);
      });
      await run('docker', ['image', 'rm', '-f', ref]).catch(() => undefined);
      const pull = docker(config, 'pull', ref);
      pull.catch(() => undefined);
      const victim = await streamingReplica(fleet, 20_000);
      assert.ok(victim !== undefined, 'a replica was streaming the layer');
      fleet.replicas[victim].process!.child.kill('SIGKILL');
      await new Promise((r) => fleet.replicas[victim].process!.child.once('exit', r));
      fleet.replicas[victim].process = undefined;
      const { stdout } = await pull;
      assert.match(stdout, /Downloaded newer image|Image is up to date/);
      const { stdout: layers } = await run('docker', ['image', 'inspect', '--format', '{{json .RootFS.Layers}}', ref]);
      assert.deepEqual(JSON.parse(layers), [big.layerDigest], 'the unpacked layer is the pushed one (its diff id)');
      for (const image of ['test/busybox:1', 'test/user-name:1']) {
        const r = `${fleet.host}/open/${image}`;
        await run('docker', ['image', 'rm', '-f', r]).catch(() => undefined);
        await docker(config, 'pull', r);
        await run('docker', ['image', 'rm', '-f', r]).catch(() => undefined);
      }
      const { token } = await tokenFrom(fleet.url);
      for (let i = 0; i < 12; i++) assert.equal(await manifestStatus(fleet.url, token!), 200);
      await fleet.startReplica(victim);
    });

    it('SIGTERM of one replica during 20 concurrent pulls: nothing in flight is cut', async () => {
      const scope = 'repository:open/test/large:pull';
      const { token } = await tokenFrom(fleet.url, scope);
      const manifest = (await (await fetch(`${fleet.url}/v2/open/test/large/manifests/1`, { headers: { authorization: `Bearer ${token}`, accept: MANIFEST_ACCEPT } })).json()) as { layers: { digest: string; size: number }[] };
      const layer = manifest.layers.reduce((a, b) => (a.size > b.size ? a : b));
      const pulls = Array.from({ length: 20 }, async () => {
        const res = await fetch(`${fleet.url}/v2/open/test/large/blobs/${layer.digest}`, { headers: { authorization: `Bearer ${token}` } });
        const hash = createHash('sha256');
        let size = 0;
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          hash.update(chunk);
          size += chunk.length;
        }
        return { status: res.status, size, digest: `sha256:${hash.digest('hex')}` };
      });
      assert.equal(await streamingReplica(fleet, 10_000, 1), 1, 'replica b is streaming blobs when it gets SIGTERM');
      const stopAt = Date.now();
      const stopping = fleet.stopReplica(1).then(() => Date.now() - stopAt);
      const results = await Promise.all(pulls);
      const stoppedIn = await stopping;
      assert.deepEqual(
        results.map((r) => `${r.status} ${r.size} ${r.digest}`),
        results.map(() => `200 ${layer.size} ${layer.digest}`),
        'all 20 complete and whole',
      );
      // It drained: it exited once its pulls were done, not when the 60 s grace period cut the load balancer's kept-alive connections.
      assert.ok(stoppedIn < 30_000, `replica b stopped after ${stoppedIn} ms`);
      await fleet.startReplica(1);
    });
  });

  describe('key rotation in three steps while a pull loop runs', () => {
    let fleet: Fleet;
    let k1: string;
    let k2: string;
    before(async () => {
      k1 = writeEcKey(join(dir, 'rot-k1.pem'));
      k2 = writeEcKey(join(dir, 'rot-k2.pem'));
      fleet = await Fleet.start({ dir: join(dir, 'rotation'), replicas: 3, config: () => fleetConfig([{ id: 'k1', file: k1, sign: true }]) });
    });
    after(() => fleet?.close());

    it('add k2, sign with k2, remove k1: zero 401s, and tokens move from kid k1 to k2', async () => {
      const statuses = new Map<number, number>();
      const kids = new Set<string>();
      let stop = false;
      let token = '';
      let tokenAt = 0;
      const loop = (async () => {
        for (let i = 0; i < 20_000 && !stop; i++) {
          if (Date.now() - tokenAt > 1000) {
            const t = await tokenFrom(fleet.url);
            statuses.set(t.status, (statuses.get(t.status) ?? 0) + 1);
            if (t.token) {
              token = t.token;
              tokenAt = Date.now();
              kids.add(String(decodeProtectedHeader(token).kid));
            }
          }
          const s = await manifestStatus(fleet.url, token);
          statuses.set(s, (statuses.get(s) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      try {
        await new Promise((r) => setTimeout(r, 1000));
        const early = await tokenFrom(fleet.url);
        await fleet.rollingRestart(() => fleetConfig([{ id: 'k1', file: k1, sign: true }, { id: 'k2', file: k2 }]));
        await fleet.rollingRestart(() => fleetConfig([{ id: 'k1', file: k1 }, { id: 'k2', file: k2, sign: true }]));
        for (const r of fleet.replicas) assert.equal(await manifestStatus(r.url, early.token!), 200, `a k1 token from before the switch, on ${r.name}`);
        // Step 3 waits until the old signer's last token has expired; the loop's tokens live at most a second.
        await new Promise((r) => setTimeout(r, 2500));
        await fleet.rollingRestart(() => fleetConfig([{ id: 'k2', file: k2, sign: true }]));
        await new Promise((r) => setTimeout(r, 1500));
      } finally {
        stop = true;
        await loop;
      }
      assert.deepEqual([...statuses.keys()], [200], `every answer 200: ${JSON.stringify([...statuses])}`);
      assert.ok((statuses.get(200) ?? 0) > 100, 'the loop ran throughout');
      assert.deepEqual([...kids].sort(), ['k1', 'k2']);
    });
  });

  describe('shared login limits through Redis', () => {
    let fleet: Fleet;
    let redis: OwnRedis;
    before(async () => {
      redis = await startOwnRedis();
      const keys = [{ id: 'k1', file: writeEcKey(join(dir, 'redis-k1.pem')), sign: true }];
      fleet = await Fleet.start({ dir: join(dir, 'redis'), replicas: 3, config: () => fleetConfig(keys, { rateLimit: { failureDelay: 0, store: redis.url } }) });
    });
    after(async () => {
      await fleet?.close();
      await redis?.stop();
    });

    it('30 bad passwords for one user over the three replicas: the per-user limit (10) holds once in total', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++) statuses.push((await tokenFrom(fleet.replicas[i % 3].url, undefined, { username: 'alice', password: `wrong-${i}` })).status);
      assert.equal(statuses.filter((s) => s === 401).length, 10, statuses.join(' '));
      assert.equal(statuses.filter((s) => s === 429).length, 20, statuses.join(' '));
      for (let i = 0; i < 3; i++) assert.match(await fleet.metrics(i), /^imagegate_registry_login_store_up 1$/m);
    });

    it('Redis stopped: logins are still answered (right password 200, wrong 401, then 429 per replica), and the metric says so', async () => {
      await redis.stop();
      for (const r of fleet.replicas) assert.equal((await tokenFrom(r.url)).status, 200, `alice on ${r.name}`);
      const bob = { username: `bob-${randomUUID().slice(0, 8)}`, password: 'nope' };
      for (const r of fleet.replicas) {
        const seen: number[] = [];
        for (let i = 0; i < 11; i++) seen.push((await tokenFrom(r.url, undefined, bob)).status);
        assert.deepEqual(seen, [...Array(10).fill(401), 429], `local limits on ${r.name}: never open, never closed`);
      }
      for (let i = 0; i < 3; i++) {
        const m = await fleet.metrics(i);
        assert.match(m, /^imagegate_registry_login_store_up 0$/m);
        assert.ok(counter(m, 'imagegate_registry_login_store_fallbacks_total') >= 11);
      }
    });
  });
});

/** The replica (or only replica `only`) with a large send queue on its traffic port (streaming a throttled blob), polled for up to `ms`. */
async function streamingReplica(fleet: Fleet, ms: number, only?: number): Promise<number | undefined> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const { stdout } = await run('ss', ['-tnH', 'state', 'established']);
    for (const [i, r] of fleet.replicas.entries()) {
      const queued = stdout
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f.length >= 4 && f[2] === `127.0.0.1:${r.port}`)
        .reduce((sum, f) => sum + Number(f[1]), 0);
      if (queued > 256 * 1024 && (only === undefined || only === i)) return i;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}
