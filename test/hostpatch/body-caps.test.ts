import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeApi, MAX_ANSWER_BYTES } from '../../hostpatch/kube-api';
import { healthzOk, MAX_HEALTHZ_BYTES } from '../../hostpatch/probe';

/** Answers with `size` bytes: `head`, then spaces, streamed, counting what it managed to send. */
function huge(head: string, size: number) {
  const sent = { bytes: 0 };
  const handler = (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(head);
    const chunk = Buffer.alloc(64 * 1024, ' ');
    const write = () => {
      while (sent.bytes < size && !res.destroyed) {
        sent.bytes += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', write);
      }
      res.end();
    };
    write();
  };
  return { handler, sent };
}

async function listen(server: http.Server | https.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function close(server: http.Server | https.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

describe('hostpatch: answers are read with a size cap', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imagegate-caps-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'ca.crt'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    writeFileSync(join(dir, 'token'), 'service-account-token\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const tls = () => ({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'ca.crt')) });
  const api = (port: number) => KubeApi.inCluster({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) }, dir)!;

  it('the Kubernetes API client reads a normal node', async () => {
    const server = https.createServer(tls(), (_req, res) => res.end(JSON.stringify({ status: { nodeInfo: { kubeletVersion: 'v1.30.4' } } })));
    const port = await listen(server);
    try {
      assert.equal(await api(port).kubeletVersion('node-1'), 'v1.30.4');
    } finally {
      await close(server);
    }
  });

  it('the Kubernetes API client refuses an answer larger than its cap, and stops reading it', async () => {
    const { handler, sent } = huge('{"status":{"nodeInfo":{"kubeletVersion":"v1.30.4"}}}', 256 * 1024 * 1024);
    const server = https.createServer(tls(), handler);
    const port = await listen(server);
    try {
      await assert.rejects(api(port).kubeletVersion('node-1'), new RegExp(`larger than ${MAX_ANSWER_BYTES} bytes`));
      assert.ok(sent.bytes < 64 * 1024 * 1024, `the server sent ${sent.bytes} bytes`);
    } finally {
      await close(server);
    }
  });

  it('the healthz probe accepts a plain ok, and refuses an ok padded past its cap', async () => {
    const plain = http.createServer((_req, res) => res.end('ok'));
    const { handler } = huge('ok', 16 * MAX_HEALTHZ_BYTES);
    const padded = http.createServer(handler);
    const [a, b] = [await listen(plain), await listen(padded)];
    try {
      assert.equal(await healthzOk(`http://127.0.0.1:${a}/healthz`), true);
      assert.equal(await healthzOk(`http://127.0.0.1:${b}/healthz`), false);
    } finally {
      await Promise.all([close(plain), close(padded)]);
    }
  });
});
