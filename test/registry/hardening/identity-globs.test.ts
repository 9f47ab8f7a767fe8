/**
 * Regression test for issue 19, item 3: identities holding glob characters
 * must not reach other tenants' repositories through `${identity}`, whichever
 * authenticator vouched for them. The facade runs over the CI's docker-registry
 * with a chain of static, htpasswd, webhook and jwt authenticators (a real JWKS
 * endpoint on loopback), and one rule: everyone pulls `basic/${identity}/**`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { RunningRegistry } from '../../../src/registry/server';
import { basic, startTestFacade, testConfig } from '../support/facade';
import { raw } from '../support/raw';

const ISSUER_AUD = 'https://registry.imagegate.test';
const MANIFEST = '/v2/basic/test/busybox/manifests/1';

describe('registry hardening: ${identity} cannot be widened by the identity (issue 19, item 3)', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-identity-glob-'));
  let facade: RunningRegistry;
  let hook: http.Server;
  let issuer: http.Server;
  let sign: (username: string) => Promise<string>;

  before(async () => {
    hook = await listen((body) => ({ identity: body.username, groups: [] }));
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    issuer = await listen(undefined, { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] });
    const iss = url(issuer);
    sign = (username) =>
      new SignJWT({ preferred_username: username })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(iss)
        .setAudience(ISSUER_AUD)
        .setSubject(`sub-${username}`)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
    writeFileSync(join(dir, 'users.htpasswd'), ['tes?t', 'te*st', 'test'].map((u) => `${u}:${bcrypt.hashSync('ht-pw', 4)}`).join('\n') + '\n');
    facade = await startTestFacade(testConfig({
      auth: {
        chain: [
          { static: { users: [{ username: 'st*atic', password: 'st-pw' }, { username: 'te?st', password: 'st-pw' }, { username: 'test/busybox', password: 'st-pw' }] } },
          { htpasswd: { file: join(dir, 'users.htpasswd') } },
          { jwt: { issuer: iss, jwksUrl: `${iss}/jwks`, audience: ISSUER_AUD, claims: { name: 'preferred_username' } } },
          { webhook: { url: url(hook) } },
        ],
        rules: [{ identity: '*', repositories: ['basic/${identity}/**'] }],
      },
    }));
  });
  after(async () => {
    await facade?.close(1000);
    hook?.close();
    issuer?.close();
  });

  const pull = (authorization: string) => raw(facade.url, MANIFEST, { headers: { authorization } });

  it('lets the real owner in (control): htpasswd user "test" pulls basic/test/busybox', async () => {
    assert.equal((await pull(basic({ username: 'test', password: 'ht-pw' }))).status, 200);
  });

  const cases: [string, () => Promise<string>][] = [
    ['static "te?st"', async () => basic({ username: 'te?st', password: 'st-pw' })],
    ['static "test/busybox" (a slash)', async () => basic({ username: 'test/busybox', password: 'st-pw' })],
    ['htpasswd "te*st"', async () => basic({ username: 'te*st', password: 'ht-pw' })],
    ['htpasswd "tes?t"', async () => basic({ username: 'tes?t', password: 'ht-pw' })],
    ['jwt preferred_username "test*"', async () => basic({ username: 'jwt', password: await sign('test*') })],
    ['jwt preferred_username "tes?t"', async () => basic({ username: 'jwt', password: await sign('tes?t') })],
    ['webhook name "t*est"', async () => basic({ username: 't*est', password: 'hook-pw' })],
    ['webhook name "**"', async () => basic({ username: '**', password: 'hook-pw' })],
  ];
  for (const [who, credentials] of cases) {
    it(`refuses ${who} with 403 on basic/test/busybox, and grants it no token scope there`, async () => {
      const authorization = await credentials();
      const res = await pull(authorization);
      assert.equal(res.status, 403, `${who}: ${res.status} ${res.body.toString().slice(0, 200)}`);
      const token = await raw(facade.url, '/token?service=imagegate-registry&scope=repository:basic/test/busybox:pull', { headers: { authorization } });
      assert.equal(token.status, 200);
      assert.deepEqual(JSON.parse(Buffer.from(token.json.token.split('.')[1], 'base64url').toString()).access, []);
    });
  }
});

/** A loopback server: POST → `answer(body)` as JSON (a webhook); GET /jwks → `jwks`. */
async function listen(answer?: (body: Record<string, unknown>) => unknown, jwks?: unknown): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c) => (text += String(c)));
    req.on('end', () => {
      if (req.method === 'GET' && jwks) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
      if (!answer) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer(JSON.parse(text || '{}'))));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function url(server: http.Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
