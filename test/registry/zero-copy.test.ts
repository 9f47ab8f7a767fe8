import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { native } from '../../src/registry/native';
import { ThrottledRelay } from '../support/cri-relay';
import { startTestFacade, testConfig } from './support/facade';
import { upstreams } from '../../testing/registry/upstreams';

/**
 * The zero-copy blob relay (splice(2) in a native add-on) against the real
 * docker-registry upstream: content, keep-alive, ranges, and what happens
 * when the client hangs up or the upstream stalls or dies mid-blob. The
 * facade's `test/large` is anonymous-pull, so the requests carry no auth.
 */
describe('registry facade: zero-copy blob relay', function () {
  this.timeout(60_000);
  let facade: Awaited<ReturnType<typeof startTestFacade>>;
  let layer: { digest: string; size: number };
  let whole: Buffer;
  const blobPath = () => `/v2/basic/test/large/blobs/${layer.digest}`;

  before(async () => {
    facade = await startTestFacade();
    const manifest = await get(facade.url, '/v2/basic/test/large/manifests/1', { accept: 'application/vnd.docker.distribution.manifest.v2+json' });
    layer = (JSON.parse(manifest.body.toString()).layers as { digest: string; size: number }[]).reduce((a, b) => (b.size > a.size ? b : a));
    assert.ok(layer.size > 512 * 1024, `test/large's biggest layer is ${layer.size} bytes; the relay needs more than 256 KiB`);
    whole = (await get(facade.url, blobPath())).body;
  });
  after(() => facade?.close(1000));

  it('is built and loads on this machine (npm install compiles it with node-gyp)', () => {
    assert.equal(native.available, true, native.available ? '' : native.reason);
  });

  it('relays a blob byte for byte and counts it under relay="splice"', async () => {
    const before = await spliced(facade);
    const res = await get(facade.url, blobPath());
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], String(layer.size));
    assert.equal(`sha256:${createHash('sha256').update(res.body).digest('hex')}`, layer.digest);
    // The client can read the last byte before the relay thread's completion reaches the event loop.
    for (let i = 0; i < 40 && (await spliced(facade)) - before < layer.size; i++) await sleep(50);
    assert.equal((await spliced(facade)) - before, layer.size);
  });

  it('keeps the client connection for the next request after a spliced blob', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const ports = new Set<number>();
      for (let i = 0; i < 3; i++) {
        const res = await get(facade.url, blobPath(), {}, agent, ports);
        assert.equal(createHash('sha256').update(res.body).digest('hex'), layer.digest.slice(7));
      }
      const small = await get(facade.url, '/v2/basic/test/large/manifests/1', {}, agent, ports);
      assert.equal(small.status, 200);
      assert.equal(ports.size, 1, 'all four answers came on one connection');
    } finally {
      agent.destroy();
    }
  });

  it('answers a Range request with 206 and exactly the range', async () => {
    const [from, to] = [1000, 1000 + 400 * 1024 - 1];
    const res = await get(facade.url, blobPath(), { range: `bytes=${from}-${to}` });
    assert.equal(res.status, 206);
    assert.equal(res.headers['content-range'], `bytes ${from}-${to}/${layer.size}`);
    assert.deepEqual(res.body, whole.subarray(from, to + 1));
  });

  it('leaves no pipe or eventfd behind when clients hang up mid-blob, and keeps serving', async () => {
    const baseline = relayFds();
    for (let i = 0; i < 10; i++) {
      await new Promise<void>((resolve) => {
        const req = http.get(`${facade.url}${blobPath()}`, { agent: false }, (res) => res.once('data', () => (req.destroy(), resolve())));
        req.once('error', () => resolve());
      });
    }
    for (let i = 0; i < 50 && relayFds() > baseline; i++) await sleep(100);
    assert.equal(relayFds(), baseline);
    assert.deepEqual((await get(facade.url, blobPath())).body, whole);
  });

  it('streams instead when zeroCopy is off (relay="stream")', async () => {
    const own = await startTestFacade(testConfig({ zeroCopy: false }));
    try {
      const res = await get(own.url, blobPath());
      assert.deepEqual(res.body, whole);
      assert.equal(await spliced(own), 0);
      assert.match(await own.metrics.metrics(), /bytes_streamed_total\{upstream="basic",kind="blob",relay="stream"\} \d+/);
    } finally {
      await own.close(1000);
    }
  });

  describe('when the upstream fails mid-blob', () => {
    let relay: ThrottledRelay;
    let flaky: Awaited<ReturnType<typeof startTestFacade>>;

    beforeEach(async () => {
      relay = await ThrottledRelay.start(upstreams.basic, { bytesPerSecond: 1e9, stallAfterBytes: 400 * 1024 });
      const auth = { basic: { username: upstreams.user, password: { value: upstreams.password } } };
      flaky = await startTestFacade(
        testConfig({
          upstreams: [{ name: 'flaky', prefix: 'flaky', url: `http://${relay.host}`, timeout: '1s', auth }],
          auth: { chain: [{ static: { users: [{ username: 'nobody', password: 'unused-password' }] } }], anonymousPull: ['flaky/**'] },
        }),
      );
    });
    afterEach(async () => {
      await flaky.close(1000);
      await relay.close();
    });

    it('cuts the client connection when the upstream stalls past its timeout, and serves the next request', async () => {
      const started = Date.now();
      const cut = await partial(flaky.url, blobPath().replace('/basic/', '/flaky/'));
      assert.ok(cut.received < layer.size, `received ${cut.received} of ${layer.size}`);
      assert.ok(Date.now() - started >= 900, 'the stall timeout (1s) ran out first');
      assert.equal((await get(flaky.url, '/v2/')).status, 401);
    });

    it('cuts the client connection when the upstream connection dies', async () => {
      const cut = await partial(flaky.url, blobPath().replace('/basic/', '/flaky/'), () => void relay.close());
      assert.ok(cut.received < layer.size, `received ${cut.received} of ${layer.size}`);
      assert.equal((await get(flaky.url, '/healthz')).status, 200);
    });
  });
});

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function get(base: string, path: string, headers: Record<string, string> = {}, agent: http.Agent | false = false, ports?: Set<number>): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}${path}`, { headers, agent }, (res) => {
      ports?.add(res.socket.localPort!);
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.once('error', reject);
    });
    req.once('error', reject);
  });
}

/** Reads a blob until the facade cuts the connection; `onFirstBytes` runs once data arrives. */
function partial(base: string, path: string, onFirstBytes?: () => void): Promise<{ received: number }> {
  return new Promise((resolve, reject) => {
    let received = 0;
    const req = http.get(`${base}${path}`, { agent: false }, (res) => {
      assert.equal(res.statusCode, 200);
      res.on('data', (c: Buffer) => {
        if (received === 0) onFirstBytes?.();
        received += c.length;
      });
      res.once('end', () => reject(new Error(`the body ended normally after ${received} bytes`)));
      res.once('error', () => resolve({ received }));
      res.once('aborted', () => resolve({ received }));
    });
    req.once('error', () => resolve({ received }));
  });
}

async function spliced(facade: { metrics: { metrics(): Promise<string> } }): Promise<number> {
  const m = /bytes_streamed_total\{upstream="basic",kind="blob",relay="splice"\} (\d+)/.exec(await facade.metrics.metrics());
  return Number(m?.[1] ?? 0);
}

/** Pipes and eventfds open in this process: the native relay's own, while it runs. */
function relayFds(): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return /^(pipe:|anon_inode:\[eventfd\])/.test(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      return false;
    }
  }).length;
}
