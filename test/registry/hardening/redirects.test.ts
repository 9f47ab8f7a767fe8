/**
 * Regression tests for issue 19, item 4 (and the minor "after the maximum
 * redirect hops"): an upstream that redirects blobs with `redirects: follow`
 * must not make the facade connect to loopback, link-local, unique-local or
 * metadata addresses, nor to a name resolving to one; hops are bounded; a
 * connection error reaches the client without its errno. The upstream here is
 * a hostile stand-in (a Node HTTP server answering blob GETs with a 307 to
 * whatever the test says, as a compromised registry or a man in the middle of
 * a plain-HTTP one would); "the secret" is a loopback service that must never
 * be reached.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunningRegistry } from '../../../src/registry/server';
import { startTestFacade, testConfig } from '../support/facade';
import { raw } from '../support/raw';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('registry hardening: where followed redirects may go (issue 19, item 4)', function () {
  this.timeout(60_000);
  let secretHits = 0;
  let secret: http.Server;
  let hostile: http.Server;
  let facade: RunningRegistry;
  /** The Location the hostile upstream sends for `/v2/<repo>/blobs/…`, by repository. */
  const locations = new Map<string, string>();

  before(async () => {
    secret = await serve((_req, res) => {
      secretHits++;
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end('the secret');
    });
    hostile = await serve((req, res) => {
      const hop = /^\/hop\/(\d+)$/.exec(req.url ?? '');
      if (hop) {
        const n = Number(hop[1]);
        if (n >= 10) return void res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '4' }).end('blob');
        return void res.writeHead(307, { location: `/hop/${n + 1}` }).end();
      }
      const m = /^\/v2\/(.+)\/blobs\/sha256:[a-f0-9]{64}$/.exec(req.url ?? '');
      const location = m && locations.get(m[1]);
      if (!location) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"BLOB_UNKNOWN","message":"unknown"}]}');
      res.writeHead(307, { location }).end();
    });
    const hostileUrl = `http://127.0.0.1:${port(hostile)}`;
    facade = await startTestFacade(testConfig({
      upstreams: [
        { name: 'hostile', prefix: 'hostile', url: hostileUrl, redirects: 'follow', timeout: '3s' },
        { name: 'listed', prefix: 'listed', url: hostileUrl, redirects: 'follow', timeout: '3s', redirectHosts: [`127.0.0.1:${port(secret)}`, '127.0.0.1:1'] },
      ],
      auth: { anonymousPull: ['hostile/**', 'listed/**'] },
    }));
  });
  after(async () => {
    await facade?.close(1000);
    secret?.close();
    hostile?.close();
  });

  const blob = (repo: string, location: string) => {
    locations.set(repo.replace(/^(hostile|listed)\//, ''), location);
    return raw(facade.url, `/v2/${repo}/blobs/${DIGEST}`);
  };
  const refused = (res: Awaited<ReturnType<typeof raw>>, what: string) => {
    assert.equal(res.status, 503, `${what}: ${res.status} ${res.body.toString().slice(0, 200)}`);
    assert.equal(res.json.errors[0].code, 'UNAVAILABLE');
    assert.match(res.json.errors[0].message, /redirected to a destination that is not allowed/, what);
  };

  const targets: [string, () => string][] = [
    ['a loopback address', () => `http://127.0.0.1:${port(secret)}/latest`],
    ['another loopback address', () => `http://127.0.0.2:${port(secret)}/latest`],
    ['IPv6 loopback', () => `http://[::1]:${port(secret)}/latest`],
    ['a DNS name resolving to loopback (localhost)', () => `http://localhost:${port(secret)}/latest`],
    ['the link-local metadata service', () => 'http://169.254.169.254/latest/meta-data/iam/security-credentials/'],
    ['the IPv6 unique-local metadata service', () => 'http://[fd00:ec2::254]/latest/meta-data/'],
    ['a private address', () => 'http://10.0.0.1/'],
    ['an IPv4-mapped loopback address', () => `http://[::ffff:127.0.0.1]:${port(secret)}/latest`],
    ['a non-HTTP scheme', () => 'file:///etc/passwd'],
  ];
  for (const [i, [what, location]] of targets.entries()) {
    it(`refuses a redirect to ${what}, without connecting there`, async () => {
      const before = secretHits;
      refused(await blob(`hostile/t${i}`, location()), what);
      assert.equal(secretHits, before, 'the loopback service was never reached');
    });
  }

  it('follows a redirect to a host listed in redirectHosts (control: the policy is what refused the others)', async () => {
    const res = await blob('listed/ok', `http://127.0.0.1:${port(secret)}/latest`);
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'the secret');
  });

  it('answers a connection error with UNAVAILABLE and no errno (no port-scan oracle)', async () => {
    const res = await blob('listed/closed', 'http://127.0.0.1:1/');
    assert.equal(res.status, 503);
    const text = res.body.toString();
    assert.doesNotMatch(text, /\bE[A-Z]{4,}\b|errno|refused/, text);
    assert.equal(res.json.errors[0].detail.reason, 'unreachable');
  });

  it('ends a chain of 10 hops on the upstream itself with a clear error, not a redirect to the client', async () => {
    const res = await blob('hostile/chain', '/hop/1');
    assert.equal(res.status, 503, `${res.status} ${String(res.headers.location ?? '')}`);
    assert.equal(res.headers.location, undefined);
    assert.match(res.json.errors[0].message, /redirected more than 5 times/);
  });

  it('still follows a short chain on the upstream itself', async () => {
    const res = await blob('hostile/short', '/hop/7');
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'blob');
  });
});

async function serve(handler: http.RequestListener): Promise<http.Server> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function port(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}
