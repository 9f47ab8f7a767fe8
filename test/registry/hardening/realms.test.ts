/**
 * Regression tests for issue 19, item 5: an upstream's credentials go to its
 * token realm only when the realm is the registry's own (host, or registrable
 * domain by the Public Suffix List, same port), or listed; never over plain
 * HTTP for an HTTPS registry. The table checks the policy against public
 * suffixes; the facade tests use stand-in upstreams (Node servers answering
 * `401 Bearer realm=…` as docker-registry does) and a realm that records what
 * it was sent.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RunningRegistry } from '../../../src/registry/server';
import { realmMayReceiveCredentials } from '../../../src/registry/upstream/realm-policy';
import { startTestFacade, testConfig } from '../support/facade';
import { raw } from '../support/raw';

const run = promisify(execFile);

describe('registry hardening: which token realms get upstream credentials (issue 19, item 5)', function () {
  this.timeout(60_000);

  describe('the policy, against public suffixes', () => {
    const table: [string, string, boolean, string[]?][] = [
      ['https://registry-1.docker.io', 'https://auth.docker.io/token', true],
      ['https://registry.example.co.uk', 'https://auth.example.co.uk/token', true],
      ['https://registry.example.co.uk', 'https://attacker.co.uk/token', false],
      ['https://registry.example.co.uk', 'https://co.uk/token', false],
      ['https://myreg.azurecr.io', 'https://myreg.azurecr.io/oauth2/token', true],
      ['https://myreg.azurecr.io', 'https://evil.azurecr.io/oauth2/token', false],
      ['https://123456789012.dkr.ecr.us-east-1.amazonaws.com', 'https://210987654321.dkr.ecr.us-east-1.amazonaws.com/token', false],
      ['https://123456789012.dkr.ecr.us-east-1.amazonaws.com', 'https://evil.s3.amazonaws.com/token', false],
      ['https://us-docker.pkg.dev', 'https://us-docker.pkg.dev/v2/token', true],
      ['https://us-docker.pkg.dev', 'https://evil.pkg.dev/v2/token', false],
      ['https://registry.example.com', 'http://registry.example.com/token', false],
      ['https://registry.example.com', 'http://auth.example.com:8080/token', false, ['auth.example.com:8080']],
      ['http://registry.example.com', 'https://auth.example.com/token', false],
      ['https://registry.example.com', 'https://auth.example.com:8443/token', false],
      ['https://registry.example.com', 'https://auth.example.com:8443/token', true, ['auth.example.com:8443']],
      ['https://registry.example.com', 'https://login.other.example/token', true, ['login.other.example']],
      ['http://127.0.0.1:5011', 'http://127.0.0.1:5012/token', false],
      ['http://127.0.0.1:5011', 'http://127.0.0.1:5012/token', true, ['127.0.0.1:5012']],
      ['https://10.0.0.1', 'https://10.0.0.2/token', false],
    ];
    for (const [registry, realm, allowed, listed] of table) {
      it(`${allowed ? 'sends' : 'withholds'} credentials for ${registry} to ${realm}${listed ? ` (realmHosts ${listed.join(', ')})` : ''}`, () => {
        assert.equal(realmMayReceiveCredentials(new URL(realm), new URL(registry), listed ?? []), allowed);
      });
    }
  });

  describe('through the facade', () => {
    const dir = mkdtempSync(join(tmpdir(), 'imagegate-realms-'));
    const realmSaw: (string | undefined)[] = [];
    let realm: http.Server;
    let plainUpstream: http.Server;
    let tlsUpstream: https.Server;
    let facade: RunningRegistry;

    before(async () => {
      await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
      realm = http.createServer((req, res) => {
        realmSaw.push(req.headers.authorization);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'realm-token', expires_in: 300 }));
      });
      await listen(realm);
      const challenge: http.RequestListener = (req, res) => {
        if (req.headers.authorization === 'Bearer realm-token') {
          return void res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': `sha256:${'b'.repeat(64)}` }).end('{}');
        }
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${port(realm)}/token",service="stand-in"`, 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      };
      plainUpstream = http.createServer(challenge);
      tlsUpstream = https.createServer({ cert: readFileSync(join(dir, 'tls.crt')), key: readFileSync(join(dir, 'tls.key')) }, challenge);
      await listen(plainUpstream);
      await listen(tlsUpstream);
      const creds = { basic: { username: 'facade', password: { value: 'upstream-secret-password' } } };
      facade = await startTestFacade(testConfig({
        upstreams: [
          { name: 'other-port', prefix: 'other-port', url: `http://127.0.0.1:${port(plainUpstream)}`, auth: creds },
          { name: 'listed', prefix: 'listed', url: `http://127.0.0.1:${port(plainUpstream)}`, auth: creds, realmHosts: [`127.0.0.1:${port(realm)}`] },
          { name: 'downgrade', prefix: 'downgrade', url: `https://127.0.0.1:${port(tlsUpstream)}`, caFile: join(dir, 'tls.crt'), auth: creds, realmHosts: [`127.0.0.1:${port(realm)}`] },
        ],
        auth: { anonymousPull: ['**'] },
      }));
    });
    after(async () => {
      await facade?.close(1000);
      for (const s of [realm, plainUpstream, tlsUpstream]) s?.close();
    });

    const manifest = async (prefix: string) => {
      realmSaw.length = 0;
      const res = await raw(facade.url, `/v2/${prefix}/app/manifests/1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      return { status: res.status, sent: [...realmSaw] };
    };

    it('withholds the credentials from a realm on another port of the registry host', async () => {
      const { sent } = await manifest('other-port');
      assert.ok(sent.length > 0, 'the realm was asked (anonymously)');
      assert.deepEqual(sent, sent.map(() => undefined), `the realm received ${JSON.stringify(sent)}`);
    });

    it('sends them to a realm listed in realmHosts (control)', async () => {
      const { status, sent } = await manifest('listed');
      assert.equal(status, 200);
      assert.equal(sent[0], `Basic ${Buffer.from('facade:upstream-secret-password').toString('base64')}`);
    });

    it('never sends the credentials of an HTTPS upstream to a plain-HTTP realm, even a listed one', async () => {
      const { sent } = await manifest('downgrade');
      assert.ok(sent.length > 0, 'the realm was asked (anonymously)');
      assert.deepEqual(sent, sent.map(() => undefined), `the realm received ${JSON.stringify(sent)}`);
    });
  });
});

async function listen(server: http.Server | https.Server): Promise<void> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
}

function port(server: http.Server | https.Server): number {
  return (server.address() as AddressInfo).port;
}
