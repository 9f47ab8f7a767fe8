/**
 * Regression test for issue 19's minor finding: a JWT whose `iat` is in the
 * future beyond the clock tolerance (30 s) is refused, as the README says.
 * The jwt authenticator against a real JWKS endpoint on loopback.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { silentLogger } from '../../../src/log/logger';
import { Secret } from '../../../src/log/secret';
import { jwtAuthenticator } from '../../../src/registry/auth/authenticators/jwt';
import { buildAuthenticator } from '../auth/support/build';

describe('registry hardening: JWT iat in the future (issue 19, minor)', () => {
  let server: http.Server;
  let sign: (iat: number) => Promise<string>;
  let issuer: string;
  before(async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k', alg: 'ES256', use: 'sig' }] });
    server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    sign = (iat) => new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k' }).setIssuer(issuer).setAudience('aud').setSubject('alice').setIssuedAt(iat).setExpirationTime(iat + 7200).sign(privateKey);
  });
  after(() => server?.close());

  const check = async (offsetSeconds: number) => {
    const auth = await buildAuthenticator(jwtAuthenticator, { issuer, jwksUrl: `${issuer}/jwks`, audience: 'aud' }, { name: 'jwt', logger: silentLogger, baseDir: '.', configPath: 'auth.chain[0].jwt' });
    const token = await sign(Math.floor(Date.now() / 1000) + offsetSeconds);
    return auth.authenticate({ kind: 'bearer', token: new Secret(token) }, { clientIp: '127.0.0.1' });
  };

  it('refuses a token issued one hour in the future', async () => {
    const d = await check(3600);
    assert.equal(d.kind, 'deny', JSON.stringify(d));
  });
  it('accepts one issued 20 s in the future (within the 30 s tolerance) and one issued a minute ago', async () => {
    assert.equal((await check(20)).kind, 'allow');
    assert.equal((await check(-60)).kind, 'allow');
  });
});
