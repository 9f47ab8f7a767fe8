import assert from 'node:assert/strict';
import express from 'express';
import net, { type AddressInfo } from 'node:net';
import { createLogger } from '../../src/log/logger';
import { errorBoundary } from '../../src/registry/http/error-boundary';
import type { RunningRegistry } from '../../src/registry/server';
import { basic, startTestFacade, testConfig, users } from './support/facade';
import { raw } from './support/raw';

describe('registry facade: bad input and errors', function () {
  let facade: RunningRegistry;
  const alice = { authorization: basic(users.alice) };

  before(async () => {
    facade = await startTestFacade();
  });
  after(() => facade.close(1000));

  const table: [string, string, number, string][] = [
    ['path traversal', '/v2/basic/../../etc/manifests/1', 400, 'NAME_INVALID'],
    ['a dot segment', '/v2/basic/./test/busybox/manifests/1', 400, 'NAME_INVALID'],
    ['an encoded slash', '/v2/basic%2Ftest/busybox/manifests/1', 400, 'NAME_INVALID'],
    ['encoded dots', '/v2/basic/%2e%2e/test/manifests/1', 400, 'NAME_INVALID'],
    ['an empty component', '/v2/basic//test/manifests/1', 400, 'NAME_INVALID'],
    ['upper case', '/v2/basic/Test/busybox/manifests/1', 400, 'NAME_INVALID'],
    ['a name too long', `/v2/basic/${'a'.repeat(260)}/manifests/1`, 400, 'NAME_INVALID'],
    ['a leading separator', '/v2/basic/-test/manifests/1', 400, 'NAME_INVALID'],
    ['a malformed digest', '/v2/basic/test/busybox/blobs/sha256:totallywrong', 400, 'DIGEST_INVALID'],
    ['an unknown digest algorithm', `/v2/basic/test/busybox/manifests/md5:${'a'.repeat(32)}`, 400, 'DIGEST_INVALID'],
    ['a malformed tag', `/v2/basic/test/busybox/manifests/${'t'.repeat(129)}`, 404, 'MANIFEST_UNKNOWN'],
    ['a name no upstream serves', '/v2/elsewhere/app/manifests/1', 404, 'NAME_UNKNOWN'],
    ['an unknown path', '/v2/basic/test/busybox', 404, 'NAME_UNKNOWN'],
    ['the catalog', '/v2/_catalog', 404, 'NAME_UNKNOWN'],
    ['a host in the name', '/v2/127.0.0.1:5000/test/busybox/manifests/1', 400, 'NAME_INVALID'],
    ['another host via a catch-all-looking name', '/v2/evil.example.com/x/manifests/1', 404, 'NAME_UNKNOWN'],
    ['an upstream that is down', '/v2/down/app/manifests/1', 503, 'UNAVAILABLE'],
  ];
  for (const [what, path, status, code] of table) {
    it(`answers ${what} with ${status} ${code}`, async () => {
      const res = await raw(facade.url, path, { headers: alice });
      assert.equal(res.status, status, res.body.toString());
      assert.equal(res.json.errors[0].code, code);
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
    });
  }

  const writes: [string, string][] = [
    ['PUT', '/v2/basic/test/busybox/manifests/1'],
    ['DELETE', '/v2/basic/test/busybox/manifests/1'],
    ['POST', '/v2/basic/test/busybox/blobs/uploads/'],
    ['PATCH', '/v2/basic/test/busybox/blobs/uploads/0f0f'],
  ];
  for (const [method, path] of writes) {
    it(`answers ${method} ${path} with 405 UNSUPPORTED and Allow`, async () => {
      const res = await raw(facade.url, path, { method, headers: alice, body: method === 'DELETE' ? undefined : '{}' });
      assert.equal(res.status, 405);
      assert.equal(res.json.errors[0].code, 'UNSUPPORTED');
      assert.equal(res.headers.allow, 'GET, HEAD');
    });
  }

  it('refuses oversized headers with 431 and keeps serving', async () => {
    const res = await raw(facade.url, '/v2/', { headers: { ...alice, 'x-big': 'x'.repeat(20_000) } });
    assert.equal(res.status, 431);
    assert.equal((await raw(facade.url, '/v2/', { headers: alice })).status, 200);
  });

  it('refuses an oversized token form body with 400 SIZE_INVALID', async () => {
    const res = await raw(facade.url, '/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=password&password=${'p'.repeat(10_000)}` });
    assert.equal(res.status, 400);
    assert.equal(res.json.errors[0].code, 'SIZE_INVALID');
  });

  it('refuses a malformed Authorization header with 401', async () => {
    for (const authorization of ['Basic', 'Basic !!!', 'Digest abc', 'Bearer']) {
      const res = await raw(facade.url, '/v2/basic/test/busybox/manifests/1', { headers: { authorization } });
      assert.equal(res.status, 401, authorization);
      assert.equal(res.json.errors[0].code, 'UNAUTHORIZED');
    }
  });

  it('answers 503 UNAVAILABLE when an upstream accepts but never answers, and cuts a body that stalls', async () => {
    const sockets = new Set<net.Socket>();
    const hanging = net.createServer((socket) => {
      sockets.add(socket);
      socket.once('data', (request) => {
        if (String(request).includes('/blobs/')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\ndocker-content-digest: x\r\n\r\n0123456789');
      });
    });
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    const port = (hanging.address() as AddressInfo).port;
    const own = await startTestFacade(
      testConfig({ upstreams: [{ name: 'hangs', url: `http://127.0.0.1:${port}`, timeout: '1s' }], auth: { anonymousPull: ['**'] } }),
    );
    try {
      const res = await raw(own.url, '/v2/app/manifests/1');
      assert.equal(res.status, 503);
      assert.equal(res.json.errors[0].code, 'UNAVAILABLE');
      assert.ok(!res.body.toString().includes(String(port)), 'the upstream address is not echoed');
      await assert.rejects(raw(own.url, `/v2/app/blobs/sha256:${'a'.repeat(64)}`), /aborted|socket hang up|ECONNRESET/);
      assert.equal((await raw(own.url, '/healthz')).status, 200);
    } finally {
      for (const s of sockets) s.destroy();
      hanging.close();
      await own.close(500);
    }
  });

  it('answers an unexpected error with a generic 500 UNKNOWN that does not echo it, and logs it', async () => {
    const lines: string[] = [];
    const app = express();
    app.get('/boom', () => {
      throw new Error('secret internal detail /etc/shadow');
    });
    app.use(errorBoundary(createLogger({ sink: lines })));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const res = await raw(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, '/boom');
      assert.equal(res.status, 500);
      assert.deepEqual(res.json, { errors: [{ code: 'UNKNOWN', message: 'internal error', detail: null }] });
      assert.ok(lines.some((l) => l.includes('secret internal detail')));
    } finally {
      server.close();
    }
  });
});
