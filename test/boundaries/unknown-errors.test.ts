import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import express from 'express';
import { Registry } from 'prom-client';
import { CriConnection } from '../../src/cri/cri/connection';
import { CriForwardBackend } from '../../src/cri/cri/backend';
import { DockerBackend } from '../../src/cri/docker/backend';
import { parseDockerHost } from '../../src/cri/docker/engine';
import { createLogger } from '../../src/log/logger';
import type { Secret } from '../../src/log/secret';
import { startOutboundProxy } from '../../src/outbound/server';
import { loadSettings } from '../../src/outbound/settings';
import { errorBoundary } from '../../src/registry/http/error-boundary';
import { services } from '../../testing/services';
import { TestImagegate } from '../support/cri-server';
import { rejectsWith } from '../cri/conformance';

/** The one log line at level error that carries the injected TypeError's stack. */
function errorLineWithStack(lines: string[], marker: string): Record<string, unknown> {
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const line = parsed.find((l) => l.level === 'error' && JSON.stringify(l).includes(marker));
  assert.ok(line, `no error line mentioning ${marker} in:\n${lines.join('\n')}`);
  assert.match(JSON.stringify(line), /TypeError: [^"]*\\n\s+at /, 'the line holds the stack');
  return line;
}

/**
 * A stand-in Docker Engine (API 1.41 shape) on a Unix socket whose image
 * inspect answer has a malformed `RepoTags` (numbers, not strings): the
 * backend's own conversion (`toCriImage`) then throws a TypeError.
 */
async function malformedEngine(dir: string): Promise<{ socket: string; server: http.Server }> {
  const socket = join(dir, 'docker.sock');
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (/^(\/v[\d.]+)?\/images\/.+\/json$/.test(req.url?.split('?')[0] ?? '')) {
      res.end(JSON.stringify({ Id: 'sha256:' + 'a'.repeat(64), RepoTags: [5], RepoDigests: [], Size: 10, Config: { User: '' } }));
      return;
    }
    res.statusCode = 404;
    res.end(JSON.stringify({ message: 'not in the stand-in' }));
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return { socket, server };
}

describe('boundaries: an unknown error is logged with its stack and answered generically', () => {
  describe('CRI adapter', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'imagegate-unknown-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('docker backend: a TypeError in toCriImage → UNKNOWN with the generic message, logged at error with its stack', async () => {
      const engine = await malformedEngine(dir);
      const backend = new DockerBackend({ endpoint: parseDockerHost(`unix://${engine.socket}`)!, pullProgressTimeoutMs: 5000, cache: false });
      const gate = await TestImagegate.start(backend);
      try {
        const details = await rejectsWith(gate.call('ImageStatus', { image: { image: 'busybox' } }), status.UNKNOWN);
        assert.equal(details, 'internal error in the image service (see its log)');
        assert.doesNotMatch(details, /startsWith|Docker Engine/);
        const line = errorLineWithStack(gate.logs, 'startsWith');
        assert.equal(line.rpc, 'ImageStatus');
      } finally {
        await gate.stop();
        await backend.close();
        engine.server.close();
      }
    });

    it('cri backend: a TypeError below the backend → UNKNOWN with the generic message, logged at error with its stack', async () => {
      const backend = new CriForwardBackend({ endpoint: `unix://${services.containerdSocket}` });
      const gate = await TestImagegate.start(backend);
      const original = CriConnection.prototype.unary;
      CriConnection.prototype.unary = function () {
        return Promise.resolve().then(() => (undefined as unknown as { images: { injectedFault(): never } }).images.injectedFault());
      } as typeof original;
      try {
        const details = await rejectsWith(gate.call('ListImages', {}), status.UNKNOWN);
        assert.equal(details, 'internal error in the image service (see its log)');
        const line = errorLineWithStack(gate.logs, 'TypeError');
        assert.equal(line.rpc, 'ListImages');
      } finally {
        CriConnection.prototype.unary = original;
        await gate.stop();
        await backend.close();
      }
    });
  });

  it('facade: a TypeError in a handler → 500 UNKNOWN "internal error", logged at error with its stack', async () => {
    const lines: string[] = [];
    const app = express();
    app.get('/v2/', async () => {
      const manifest = undefined as unknown as { layers: unknown[] };
      return manifest.layers.length;
    });
    app.use(errorBoundary(createLogger({ sink: lines })));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/`);
      assert.equal(res.status, 500);
      assert.deepEqual(await res.json(), { errors: [{ code: 'UNKNOWN', message: 'internal error', detail: null }] });
      errorLineWithStack(lines, 'layers');
    } finally {
      server.close();
    }
  });

  it('outbound proxy: a TypeError while forwarding → 500 "internal error", logged at error with its stack', async () => {
    const upstream = http.createServer((_req, res) => res.end('upstream answered'));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const loaded = loadSettings([], {
      LISTEN_ADDR: '127.0.0.1:0', METRICS_ENABLED: 'false', UPSTREAM_SCHEME: 'http',
      UPSTREAM_HOST: `127.0.0.1:${(upstream.address() as AddressInfo).port}`,
    });
    if (!('settings' in loaded)) throw new Error('expected settings');
    const lines: string[] = [];
    // A token source with a bug: it resolves with no Secret, so building the upstream headers throws a TypeError.
    const tokens = async () => undefined as unknown as Secret;
    const proxy = await startOutboundProxy(loaded.settings, { tokens, metricsRegistry: new Registry(), logger: createLogger({ sink: lines }) });
    try {
      const res = await fetch(`http://127.0.0.1:${proxy.address.port}/anything`);
      assert.equal(res.status, 500);
      assert.equal((await res.text()).trim(), 'internal error');
      assert.equal(res.headers.get('x-outbound-proxy'), 'internal');
      const line = errorLineWithStack(lines, 'reveal');
      assert.equal(line.reason, 'internal');
    } finally {
      await proxy.close(500);
      upstream.close();
    }
  });
});
