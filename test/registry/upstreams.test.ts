import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { Secret } from '../../src/log/secret';
import type { RunningRegistry } from '../../src/registry/server';
import { fromPassword } from '../../src/registry/upstream/credentials';
import { createAgents } from '../../src/registry/upstream/http-client';
import { HttpUpstream } from '../../src/registry/upstream/http-upstream';
import { ManifestCache } from '../../src/registry/upstream/manifest-cache';
import type { Upstream, UpstreamRequest } from '../../src/registry/upstream/upstream';
import { UpstreamAuth } from '../../src/registry/upstream/upstream-auth';
import { createLogger } from '../../src/log/logger';
import { createRegistry } from '../../src/metrics/server';
import { startRegistry } from '../../src/registry/server';
import { AwsStandIn, STANDIN_ACCOUNT, STANDIN_ECR_PASSWORD } from '../../testing/aws';
import { standInServices } from '../credentials/stand-in-services';
import { requireTcp } from '../../testing/services';
import { basic, startTestFacade, testConfig, tokenFor, users } from './support/facade';
import { raw, upstreamManifest } from './support/raw';
import { upstreams } from '../../testing/registry/upstreams';

const DOCKER_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
const upstreamBasic = basic({ username: upstreams.user, password: upstreams.password });

async function issued(): Promise<number> {
  const res = await raw(`http://${upstreams.issuer}`, '/stats');
  return res.json.issued as number;
}

function tokenUpstream(): HttpUpstream {
  const url = new URL(`http://${upstreams.token}`);
  const agents = createAgents();
  const auth = new UpstreamAuth({ upstream: 'token', registryUrl: url, credentials: fromPassword(upstreams.user, new Secret(upstreams.password)), agents, timeoutMs: 5000, realmHosts: [upstreams.issuer] });
  return new HttpUpstream({ name: 'token', url, timeoutMs: 5000, redirects: 'follow', auth, agents });
}

describe('registry facade: upstreams', function () {
  let facade: RunningRegistry;
  let manifest: { digest: string; body: any };
  let layer: string;

  before(async () => {
    facade = await startTestFacade();
    manifest = await upstreamManifest(upstreams.basic, 'test/busybox', '1', DOCKER_V2, upstreamBasic);
    layer = manifest.body.layers[0].digest;
  });
  after(() => facade.close(1000));

  const pull = async (path: string, scope: string, headers: Record<string, string> = {}) =>
    raw(facade.url, path, { headers: { authorization: `Bearer ${await tokenFor(facade.url, users.alice, scope)}`, ...headers } });

  it('answers an upstream Bearer challenge with its credentials and caches the token per scope', async () => {
    const scope = 'repository:token/test/busybox:pull';
    const before = await issued();
    const m = await pull('/v2/token/test/busybox/manifests/1', scope, { accept: DOCKER_V2 });
    assert.equal(m.status, 200);
    assert.equal(m.headers['docker-content-digest'], manifest.digest);
    for (let i = 0; i < 5; i++) assert.equal((await pull(`/v2/token/test/busybox/blobs/${layer}`, scope)).status, 200);
    assert.equal((await pull('/v2/token/test/busybox/tags/list', scope)).status, 200);
    assert.equal((await issued()) - before, 1, 'one upstream token for one scope');
    assert.equal((await pull('/v2/token/test/large/manifests/1', 'repository:token/test/large:pull')).status, 200);
    assert.equal((await issued()) - before, 2, 'a new scope gets its own token');
  });

  it('serves a burst of concurrent first requests to a Bearer upstream (all learn the challenge, none is refused)', async () => {
    const fresh = await startTestFacade();
    try {
      const t = await tokenFor(fresh.url, users.alice, 'repository:token/test/busybox:pull');
      const answers = await Promise.all(Array.from({ length: 24 }, () => raw(fresh.url, `/v2/token/test/busybox/blobs/${layer}`, { headers: { authorization: `Bearer ${t}` } })));
      assert.deepEqual(answers.map((a) => a.status), answers.map(() => 200));
    } finally {
      await fresh.close(1000);
    }
  });

  it('sends a static upstream token as is', async () => {
    const res = await raw(`http://${upstreams.issuer}`, '/token?service=imagegate-upstream&scope=repository:test/busybox:pull', { headers: { authorization: upstreamBasic } });
    const own = await startTestFacade(testConfig({ upstreams: [{ name: 'static', prefix: 'static', url: `http://${upstreams.token}`, auth: { static: { token: { value: res.json.token } } } }] }));
    try {
      const t = await tokenFor(own.url, users.alice, 'repository:static/test/busybox:pull');
      const m = await raw(own.url, '/v2/static/test/busybox/manifests/1', { headers: { authorization: `Bearer ${t}`, accept: DOCKER_V2 } });
      assert.equal(m.status, 200);
      assert.equal(m.headers['docker-content-digest'], manifest.digest);
      const other = await raw(own.url, '/v2/static/test/large/manifests/1', { headers: { authorization: `Bearer ${await tokenFor(own.url, users.alice, 'repository:static/test/large:pull')}` } });
      assert.equal(other.status, 403, 'the static token grants only its own scope upstream');
      assert.equal(other.json.errors[0].code, 'DENIED');
    } finally {
      await own.close(1000);
    }
  });

  it('shares one upstream fetch among concurrent requests for one manifest digest, then answers from memory', async () => {
    let calls = 0;
    const inner = tokenUpstream();
    const counting: Upstream = { name: inner.name, fetch: (r: UpstreamRequest) => (calls++, inner.fetch(r)), close: () => inner.close() };
    const cache = new ManifestCache(counting, { maxEntries: 10 });
    const request: UpstreamRequest = { kind: 'manifest', method: 'GET', repository: 'test/busybox', reference: manifest.digest, accept: [DOCKER_V2] };
    const answers = await Promise.all(Array.from({ length: 20 }, () => cache.fetch(request)));
    const bodies = await Promise.all(answers.map(async (a) => Buffer.concat(await a.body!.toArray())));
    assert.equal(calls, 1);
    for (const b of bodies) assert.equal(`sha256:${createHash('sha256').update(b).digest('hex')}`, manifest.digest);
    const head = await cache.fetch({ ...request, method: 'HEAD' });
    assert.equal(head.headers['content-length'], String(bodies[0].length));
    assert.equal(calls, 1, 'HEAD and later GETs come from memory');
    await cache.close();
  });

  it('answers a digest the upstream does not know with MANIFEST_UNKNOWN through the cache', async () => {
    let calls = 0;
    const inner = tokenUpstream();
    const counting: Upstream = { name: inner.name, fetch: (r: UpstreamRequest) => (calls++, inner.fetch(r)), close: () => inner.close() };
    const cache = new ManifestCache(counting);
    const wrong = `sha256:${'1'.repeat(64)}`;
    await assert.rejects(cache.fetch({ kind: 'manifest', method: 'GET', repository: 'test/busybox', reference: wrong, accept: [] }), { code: 'MANIFEST_UNKNOWN' });
    await cache.close();
  });

  it('follows a blob redirect to another host, dropping Authorization (the storage host refuses it)', async () => {
    const res = await pull(`/v2/follow/test/busybox/blobs/${layer}`, 'repository:follow/test/busybox:pull');
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(`sha256:${createHash('sha256').update(res.body).digest('hex')}`, layer);
  });

  it('follows a relative blob redirect', async () => {
    const res = await pull(`/v2/relative/test/busybox/blobs/${layer}`, 'repository:relative/test/busybox:pull');
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(`sha256:${createHash('sha256').update(res.body).digest('hex')}`, layer);
  });

  it('passes a blob redirect to the client when configured to', async () => {
    const res = await pull(`/v2/pass/test/busybox/blobs/${layer}`, 'repository:pass/test/busybox:pull');
    assert.equal(res.status, 307);
    assert.equal(res.headers.location, `http://127.0.0.2:5015/v2/test/busybox/blobs/${layer}`);
    const direct = await raw('http://127.0.0.2:5015', new URL(String(res.headers.location)).pathname);
    assert.equal(direct.status, 200);
  });

  it('survives clients that hang up in the middle of a blob, and keeps serving', async () => {
    const large = await upstreamManifest(upstreams.basic, 'test/large', '1', DOCKER_V2, upstreamBasic);
    const big = large.body.layers.reduce((a: any, b: any) => (b.size > a.size ? b : a));
    const url = new URL(`${facade.url}/v2/basic/test/large/blobs/${big.digest}`);
    for (let i = 0; i < 10; i++) {
      await new Promise<void>((resolve) => {
        const req = http.get(url, { agent: false }, (res) => res.once('data', () => (req.destroy(), resolve())));
        req.once('error', () => resolve());
      });
    }
    const whole = await raw(facade.url, `/v2/basic/test/large/blobs/${big.digest}`);
    assert.equal(whole.status, 200);
    assert.equal(whole.body.length, big.size);
  });

  it('lets in-flight blob streams finish on shutdown while refusing new connections', async () => {
    const own = await startTestFacade();
    const large = await upstreamManifest(upstreams.basic, 'test/large', '1', DOCKER_V2, upstreamBasic);
    const big = large.body.layers.reduce((a: any, b: any) => (b.size > a.size ? b : a));
    const url = new URL(`${own.url}/v2/basic/test/large/blobs/${big.digest}`);
    const body = await new Promise<Buffer>((resolve, reject) => {
      http.get(url, { agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.once('data', (first: Buffer) => {
          chunks.push(first);
          res.pause();
          void own.close(10_000);
          setTimeout(() => {
            const refused = http.get(`${own.url}/healthz`, { agent: false });
            refused.once('error', () => {
              res.on('data', (c: Buffer) => chunks.push(c));
              res.resume();
            });
            refused.once('response', () => reject(new Error('a new connection was accepted during shutdown')));
          }, 100);
        });
        res.once('end', () => resolve(Buffer.concat(chunks)));
        res.once('error', reject);
      }).once('error', reject);
    });
    assert.equal(body.length, big.size);
    assert.equal(`sha256:${createHash('sha256').update(body).digest('hex')}`, big.digest);
  });
});

describe('registry facade: an ECR upstream through the shared credential services', function () {
  let aws: AwsStandIn;
  let facade: RunningRegistry;
  const logs: string[] = [];

  before(async () => {
    await requireTcp('ECR-like upstream', upstreams.ecr);
    aws = await AwsStandIn.start();
    const credentials = standInServices(aws);
    const config = testConfig({
      upstreams: [{ name: 'ecr', prefix: 'team-a', url: `http://${upstreams.ecr}`, auth: { ecr: { registry: `${STANDIN_ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com` } } }],
    });
    const logger = createLogger({ level: 'debug', sink: logs });
    facade = await startRegistry(config, { logger, metricsRegistry: createRegistry(), baseDir: process.cwd(), credentials });
  });
  after(async () => {
    await facade?.close(1000);
    await aws?.close();
  });

  it('pulls with an ECR token minted once and reused', async () => {
    const t = await tokenFor(facade.url, users.alice, 'repository:team-a/test/busybox:pull');
    for (let i = 0; i < 3; i++) {
      const res = await raw(facade.url, '/v2/team-a/test/busybox/manifests/1', { headers: { authorization: `Bearer ${t}`, accept: DOCKER_V2 } });
      assert.equal(res.status, 200);
    }
    assert.equal(aws.calls('ecr:GetAuthorizationToken'), 1);
    assert.ok(!logs.join('\n').includes(STANDIN_ECR_PASSWORD));
  });

  it('refuses an upstream URL that is not ECR without a registry setting, naming the setting', () => {
    const config = testConfig({ upstreams: [{ name: 'ecr', url: 'http://127.0.0.1:5017', auth: { ecr: {} } }] });
    return assert.rejects(startRegistry(config, { logger: createLogger({ sink: [] }), metricsRegistry: createRegistry(), baseDir: '.', credentials: standInServices(aws) }), {
      name: 'ConfigError',
      setting: 'registry.upstreams[0].auth.ecr',
    });
  });
});
