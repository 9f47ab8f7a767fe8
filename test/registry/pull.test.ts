import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { basic, startTestFacade, tokenFor, users } from './support/facade';
import { raw, upstreamManifest } from './support/raw';
import { upstreams } from '../../testing/registry/upstreams';

const DOCKER_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const upstreamAuth = basic({ username: upstreams.user, password: upstreams.password });

describe('registry facade: pull endpoints over a real docker-registry', function () {
  let facade: Awaited<ReturnType<typeof startTestFacade>>;
  let token: string;
  let manifest: { digest: string; body: any };
  let layer: string;

  before(async () => {
    facade = await startTestFacade();
    token = await tokenFor(facade.url, users.alice, 'repository:basic/test/busybox:pull');
    manifest = await upstreamManifest(upstreams.basic, 'test/busybox', '1', DOCKER_V2, upstreamAuth);
    layer = manifest.body.layers[0].digest;
  });
  after(() => facade.close(1000));

  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    raw(facade.url, path, { method, headers: { authorization: `Bearer ${token}`, ...headers } });

  it('GET /v2/ answers 200 with the API version header once authenticated', async () => {
    const res = await get('/v2/');
    assert.equal(res.status, 200);
    assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
  });

  it('serves a manifest by tag with Docker-Content-Digest, Content-Type, Content-Length and ETag', async () => {
    const res = await get('/v2/basic/test/busybox/manifests/1', { accept: DOCKER_V2 });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], DOCKER_V2);
    assert.equal(res.headers['docker-content-digest'], manifest.digest);
    assert.equal(res.headers['content-length'], String(res.body.length));
    assert.ok(res.headers.etag?.includes(manifest.digest));
    assert.equal(`sha256:${createHash('sha256').update(res.body).digest('hex')}`, manifest.digest);
  });

  it('answers HEAD on a manifest with Content-Length and digest but no body', async () => {
    const full = await get('/v2/basic/test/busybox/manifests/1', { accept: DOCKER_V2 });
    const head = await get('/v2/basic/test/busybox/manifests/1', { accept: DOCKER_V2 }, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['content-length'], String(full.body.length));
    assert.equal(head.headers['docker-content-digest'], manifest.digest);
  });

  it('serves a manifest by digest, repeatedly (from the cache) with identical bytes', async () => {
    const first = await get(`/v2/basic/test/busybox/manifests/${manifest.digest}`, { accept: DOCKER_V2 });
    const second = await get(`/v2/basic/test/busybox/manifests/${manifest.digest}`, { accept: DOCKER_V2 });
    const head = await get(`/v2/basic/test/busybox/manifests/${manifest.digest}`, { accept: DOCKER_V2 }, 'HEAD');
    assert.equal(first.status, 200);
    assert.deepEqual(second.body, first.body);
    assert.equal(second.headers['content-type'], DOCKER_V2);
    assert.equal(head.headers['content-length'], String(first.body.length));
  });

  for (const accept of [DOCKER_V2, OCI_MANIFEST, `${OCI_MANIFEST}, ${DOCKER_V2}`]) {
    it(`passes Accept "${accept}" to the upstream unchanged (same type and digest as asking directly)`, async () => {
      for (const tag of ['1', 'oci']) {
        const direct = await raw(`http://${upstreams.basic}`, `/v2/test/busybox/manifests/${tag}`, { headers: { accept, authorization: upstreamAuth } });
        const via = await get(`/v2/basic/test/busybox/manifests/${tag}`, { accept });
        assert.equal(via.status, direct.status, tag);
        if (direct.status === 200) {
          assert.equal(via.headers['content-type'], direct.headers['content-type'], tag);
          assert.equal(via.headers['docker-content-digest'], direct.headers['docker-content-digest'], tag);
        }
      }
    });
  }

  it('streams a blob whose bytes match its digest, with Content-Length and digest headers', async () => {
    const res = await get(`/v2/basic/test/busybox/blobs/${layer}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['docker-content-digest'], layer);
    assert.equal(res.headers['content-length'], String(res.body.length));
    assert.equal(`sha256:${createHash('sha256').update(res.body).digest('hex')}`, layer);
  });

  it('answers HEAD on a blob with its Content-Length', async () => {
    const res = await get(`/v2/basic/test/busybox/blobs/${layer}`, {}, 'HEAD');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], String(manifest.body.layers[0].size));
    assert.equal(res.body.length, 0);
  });

  it('answers a Range request with 206 and Content-Range', async () => {
    const whole = await get(`/v2/basic/test/busybox/blobs/${layer}`);
    const res = await get(`/v2/basic/test/busybox/blobs/${layer}`, { range: 'bytes=10-109' });
    assert.equal(res.status, 206);
    assert.equal(res.body.length, 100);
    assert.match(String(res.headers['content-range']), /^bytes 10-109\/\d+$/);
    assert.deepEqual(res.body, whole.body.subarray(10, 110));
  });

  it('lists tags under the facade name, paginated with n/last and a Link rewritten to the facade', async () => {
    const all = await get('/v2/basic/test/busybox/tags/list');
    assert.equal(all.status, 200);
    assert.equal(all.json.name, 'basic/test/busybox');
    assert.deepEqual([...all.json.tags].sort(), ['1', '2', '3', 'oci']);
    const page = await get('/v2/basic/test/busybox/tags/list?n=2');
    assert.equal(page.json.tags.length, 2);
    const link = String(page.headers.link);
    assert.ok(link.startsWith(`<${facade.url}/v2/basic/test/busybox/tags/list?`), link);
    assert.match(link, /rel="next"/);
    const next = link.slice(link.indexOf(facade.url) + facade.url.length, link.indexOf('>'));
    const rest = await get(next);
    assert.equal(rest.status, 200);
    assert.deepEqual([...page.json.tags, ...rest.json.tags].sort(), ['1', '2', '3', 'oci']);
  });

  it('answers referrers with an OCI image index', async () => {
    const res = await get(`/v2/basic/test/busybox/referrers/${manifest.digest}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(res.json.manifests, []);
  });

  it('maps a facade prefix onto an upstream repository prefix (lib/busybox → test/busybox)', async () => {
    const t = await tokenFor(facade.url, users.alice, 'repository:lib/busybox:pull');
    const res = await raw(facade.url, '/v2/lib/busybox/manifests/1', { headers: { authorization: `Bearer ${t}`, accept: DOCKER_V2 } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['docker-content-digest'], manifest.digest);
  });

  it('answers unknown manifests and blobs with MANIFEST_UNKNOWN / BLOB_UNKNOWN', async () => {
    const m = await get('/v2/basic/test/busybox/manifests/nope');
    assert.equal(m.status, 404);
    assert.equal(m.json.errors[0].code, 'MANIFEST_UNKNOWN');
    const b = await get(`/v2/basic/test/busybox/blobs/sha256:${'0'.repeat(64)}`);
    assert.equal(b.status, 404);
    assert.equal(b.json.errors[0].code, 'BLOB_UNKNOWN');
  });

  it('counts requests by route and status, upstream latency, streamed bytes, auth decisions and cache hits', async () => {
    const text = await facade.metrics.metrics();
    assert.match(text, /imagegate_registry_requests_total\{route="blob",method="GET",status="200"\} \d+/);
    assert.match(text, /imagegate_registry_requests_total\{route="manifest",method="GET",status="404"\} \d+/);
    assert.match(text, /imagegate_registry_upstream_seconds_count\{upstream="basic",kind="blob",status="200"\} \d+/);
    const bytes = [...text.matchAll(/imagegate_registry_bytes_streamed_total\{upstream="basic",kind="blob",relay="\w+"\} (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    assert.ok(bytes >= manifest.body.layers[0].size, `bytes streamed: ${bytes}`);
    assert.match(text, /imagegate_registry_auth_decisions_total\{authenticator="static",result="allow"\} \d+/);
    assert.match(text, /imagegate_registry_manifest_cache_total\{result="hit"\} \d+/);
  });

  it('answers /healthz and /readyz', async () => {
    assert.equal((await raw(facade.url, '/healthz')).status, 200);
    assert.equal((await raw(facade.url, '/readyz')).status, 200);
  });
});
