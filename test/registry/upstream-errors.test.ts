/**
 * Issue 17, item 3: when an upstream fails, the people who need to know learn
 * why. The facade here fronts upstreams that fail in each way a real one does
 * — a name that does not resolve, a closed port, a server that never answers,
 * TLS spoken to a plain-HTTP server, a registry answering 503 — and the tests
 * check all three places the reason goes: the OCI error message (and what the
 * real Docker CLI prints from it), one warn log line with upstream, reason and
 * request id, and `imagegate_registry_upstream_errors_total{upstream,reason}`.
 * A blob redirect to another host that fails is the boundary: its client sees
 * no errno (issue 19: no port-scan oracle), while the log and metric keep it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Registry } from 'prom-client';
import type { RunningRegistry } from '../../src/registry/server';
import { requireUnixSocket, services } from '../../testing/services';
import { startTestFacade, testConfig } from './support/facade';
import { raw } from './support/raw';

const run = promisify(execFile);
const DIGEST = `sha256:${'b'.repeat(64)}`;

describe('registry facade: upstream failures reach the log, the metrics and docker pull (issue 17)', function () {
  this.timeout(180_000);
  const sink: string[] = [];
  const sockets = new Set<net.Socket>();
  let failing: http.Server;
  let silent: net.Server;
  let redirecting: http.Server;
  let closedPort: number;
  let facade: RunningRegistry & { metrics: Registry };
  const dockerConfig = mkdtempSync(join(tmpdir(), 'imagegate-docker-'));

  before(async () => {
    failing = await listen(http.createServer((_req, res) => res.writeHead(503, { 'content-type': 'text/plain' }).end('maintenance\n')));
    silent = net.createServer((socket) => void sockets.add(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    closedPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    redirecting = await listen(http.createServer((_req, res) => res.writeHead(307, { location: `http://127.0.0.1:${closedPort}/blob` }).end()));
    facade = await startTestFacade(
      testConfig({
        upstreams: [
          { name: 'docker-hub', prefix: 'hub', url: 'https://docker-hub.invalid', timeout: '5s' },
          { name: 'refusing', prefix: 'refusing', url: `http://127.0.0.1:${closedPort}`, timeout: '5s' },
          { name: 'silent', prefix: 'silent', url: `http://127.0.0.1:${port(silent)}`, timeout: '1s' },
          { name: 'plain', prefix: 'plain', url: `https://127.0.0.1:${port(failing)}`, timeout: '5s' },
          { name: 'failing', prefix: 'failing', url: `http://127.0.0.1:${port(failing)}`, timeout: '5s' },
          { name: 'redirecting', prefix: 'redirecting', url: `http://127.0.0.1:${port(redirecting)}`, redirects: 'follow', redirectHosts: [`127.0.0.1:${closedPort}`] },
        ],
        auth: { anonymousPull: ['**'] },
      }),
      sink,
    );
  });
  after(async () => {
    await facade?.close(1000);
    for (const s of sockets) s.destroy();
    await Promise.all([failing, silent, redirecting].map((s) => new Promise((r) => s?.close(r))));
    rmSync(dockerConfig, { recursive: true, force: true });
  });

  const table: [string, string, string, RegExp][] = [
    ['a name that does not resolve', 'hub', 'ENOTFOUND', /^upstream docker-hub unreachable: ENOTFOUND$/],
    ['a closed port', 'refusing', 'ECONNREFUSED', /^upstream refusing unreachable: ECONNREFUSED$/],
    ['a server that never answers', 'silent', 'timeout', /^upstream silent timed out after 1s$/],
    ['TLS to a plain-HTTP server', 'plain', 'tls', /^upstream plain unreachable: TLS handshake failed$/],
    ['a 503 from the registry', 'failing', 'http_503', /^upstream failing failed: HTTP 503$/],
  ];
  for (const [what, prefix, reason, message] of table) {
    it(`${what}: the message says ${reason}, one warn line names upstream, reason and request id, the counter counts it`, async () => {
      const upstream = message.source.split(' ')[1];
      const before = await counted(facade.metrics, upstream, reason);
      const res = await raw(facade.url, `/v2/${prefix}/app/manifests/1`);
      assert.equal(res.status, 503, res.body.toString());
      assert.equal(res.json.errors[0].code, 'UNAVAILABLE');
      assert.match(res.json.errors[0].message, message);
      assert.equal(res.json.errors[0].detail.reason, reason);
      const id = String(res.headers['x-request-id']);
      assert.match(id, /^[0-9a-f]{16}$/);
      assert.equal(res.json.errors[0].detail.requestId, id);
      const lines = logged().filter((l) => l.message === 'upstream failed' && l.requestId === id);
      assert.equal(lines.length, 1, sink.join('\n'));
      assert.deepEqual([lines[0].level, lines[0].upstream, lines[0].reason, lines[0].repository], ['warn', upstream, reason, 'app']);
      assert.equal(await counted(facade.metrics, upstream, reason), before + 1);
    });
  }

  it("takes a proxy's X-Request-Id when it is a plain token, and makes its own otherwise", async () => {
    const given = await raw(facade.url, '/v2/refusing/app/manifests/1', { headers: { 'x-request-id': 'lb-1234.abc' } });
    assert.equal(given.headers['x-request-id'], 'lb-1234.abc');
    assert.ok(logged().some((l) => l.message === 'upstream failed' && l.requestId === 'lb-1234.abc'));
    const odd = await raw(facade.url, '/v2/refusing/app/manifests/1', { headers: { 'x-request-id': 'has space"and quote' } });
    assert.match(String(odd.headers['x-request-id']), /^[0-9a-f]{16}$/);
  });

  it('a redirect to another host that fails: the client sees no errno (issue 19), the log and the metric keep the real reason', async () => {
    const before = await counted(facade.metrics, 'redirecting', 'ECONNREFUSED');
    const res = await raw(facade.url, `/v2/redirecting/app/blobs/${DIGEST}`);
    assert.equal(res.status, 503);
    const text = res.body.toString();
    assert.doesNotMatch(text, /\bE[A-Z]{4,}\b|errno|refused|127\.0\.0\.1|:\d{4,5}\b/, text);
    assert.equal(res.json.errors[0].message, 'upstream redirecting is unavailable');
    assert.equal(res.json.errors[0].detail.reason, 'unreachable');
    const id = String(res.headers['x-request-id']);
    assert.ok(logged().some((l) => l.message === 'upstream failed' && l.requestId === id && l.reason === 'ECONNREFUSED'), sink.join('\n'));
    assert.equal(await counted(facade.metrics, 'redirecting', 'ECONNREFUSED'), before + 1);
  });

  it('docker pull (the real Docker CLI and Engine) prints the upstream and the reason', async () => {
    await requireUnixSocket('Docker Engine', services.dockerSocket);
    const host = `127.0.0.1:${facade.address.port}`;
    for (const [ref, said] of [[`${host}/hub/busybox:1`, 'upstream docker-hub unreachable: ENOTFOUND'], [`${host}/refusing/busybox:1`, 'upstream refusing unreachable: ECONNREFUSED']]) {
      const out = await run('docker', ['--config', dockerConfig, 'pull', ref], { timeout: 120_000 }).then(
        () => assert.fail(`docker pull ${ref} succeeded`),
        (err: { stderr?: string }) => String(err.stderr),
      );
      assert.ok(out.includes(said), `docker pull ${ref} printed: ${out}`);
    }
    const pulls = logged().filter((l) => l.message === 'upstream failed' && l.upstream === 'docker-hub' && l.reason === 'ENOTFOUND');
    assert.ok(pulls.length >= 1, 'the pull was logged');
  });

  function logged(): Record<string, unknown>[] {
    return sink.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }
});

function port(server: net.Server): number {
  return (server.address() as AddressInfo).port;
}

async function listen(server: http.Server): Promise<http.Server> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

async function counted(metrics: Registry, upstream: string, reason: string): Promise<number> {
  const metric = await metrics.getSingleMetric('imagegate_registry_upstream_errors_total')?.get();
  return metric?.values.find((v) => v.labels.upstream === upstream && v.labels.reason === reason)?.value ?? 0;
}
