/**
 * Facade token keys for a fleet (issue 15): several keys verify, one signs,
 * every token names its key (`kid`); the three rotation steps accept every
 * live token; the public keys are published as a JWK Set; bad key settings
 * stop start-up naming the setting.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { SignJWT, createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { TokenIssuer } from '../../src/registry/access/token-issuer';
import { type TokenKey, thumbprint } from '../../src/registry/access/token-keys';
import { registrySchema } from '../../src/registry/config';
import { startTestFacade, testConfig, tokenFor, users } from './support/facade';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const ec = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const issuerWith = (keys: TokenKey[]) => new TokenIssuer({ issuer: 'imagegate-registry', service: 'svc', ttlMs: 60_000, keys });
const ACCESS = [{ type: 'repository', name: 'x', actions: ['pull'] }];

describe('token keys: rotation across a fleet', () => {
  const k1 = ec();
  const k2 = ec();

  it('each token carries the kid of the key that signed it; every key verifies', async () => {
    const both = issuerWith([{ id: 'k1', key: k1, sign: true }, { id: 'k2', key: k2, sign: false }]);
    const t1 = (await both.issue('alice', ACCESS)).token;
    assert.equal(decodeProtectedHeader(t1).kid, 'k1');
    const signsK2 = issuerWith([{ id: 'k1', key: k1, sign: false }, { id: 'k2', key: k2, sign: true }]);
    const t2 = (await signsK2.issue('alice', ACCESS)).token;
    assert.equal(decodeProtectedHeader(t2).kid, 'k2');
    for (const v of [both, signsK2]) for (const t of [t1, t2]) assert.equal((await v.verify(t))?.subject, 'alice');
  });

  it('the three steps, replicas at different steps: no live token is refused; the removed key’s tokens are', async () => {
    const steps = [
      issuerWith([{ id: 'k1', key: k1, sign: true }]),
      issuerWith([{ id: 'k1', key: k1, sign: true }, { id: 'k2', key: k2, sign: false }]),
      issuerWith([{ id: 'k1', key: k1, sign: false }, { id: 'k2', key: k2, sign: true }]),
      issuerWith([{ id: 'k2', key: k2, sign: true }]),
    ];
    // During a rolling update replicas run step n and n+1 side by side: each accepts the other's tokens.
    for (let n = 0; n + 1 < steps.length; n++) {
      for (const [a, b] of [[steps[n], steps[n + 1]], [steps[n + 1], steps[n]]]) {
        const { token } = await a.issue('alice', ACCESS);
        const kid = decodeProtectedHeader(token).kid;
        const retired = n === 2 && kid === 'k1';
        if (!retired) assert.ok(await b.verify(token), `step ${n}/${n + 1}: a ${kid} token`);
      }
    }
    // Step 3 is taken only after the k1 signer's last token expired (token.ttl); a k1 token after it is refused.
    assert.equal(await steps[3].verify((await steps[0].issue('alice', ACCESS)).token), undefined);
  });

  it('an unknown kid, another key under a known kid, and a kid-less token from another key are refused', async () => {
    const v = issuerWith([{ id: 'k1', key: k1, sign: true }]);
    const forge = (kid: string | undefined, key: KeyObject) =>
      new SignJWT({ access: ACCESS }).setProtectedHeader(kid ? { alg: 'ES256', kid } : { alg: 'ES256' }).setIssuer('imagegate-registry').setAudience('svc').setSubject('mallory').setIssuedAt().setExpirationTime('1m').sign(key);
    assert.equal(await v.verify(await forge('k9', k1)), undefined);
    assert.equal(await v.verify(await forge('k1', k2)), undefined);
    assert.equal(await v.verify(await forge(undefined, k2)), undefined);
    assert.ok(await v.verify(await forge(undefined, k1)), 'a kid-less token from the signer (issued before kids) is accepted');
  });

  it('without ids, kid is the RFC 7638 thumbprint, the same on every replica', async () => {
    const a = issuerWith([{ key: k1, sign: true }]);
    const b = new TokenIssuer({ issuer: 'imagegate-registry', service: 'svc', ttlMs: 60_000, key: k1 });
    const jwk = createPublicKey(k1).export({ format: 'jwk' }) as { crv: string; x: string; y: string };
    const { token } = await a.issue('alice', ACCESS);
    assert.equal(decodeProtectedHeader(token).kid, thumbprint(jwk));
    assert.equal(decodeProtectedHeader((await b.issue('alice', ACCESS)).token).kid, thumbprint(jwk));
    assert.ok(await b.verify(token));
  });

  it('a verify-only public key verifies and cannot sign', async () => {
    const v = issuerWith([{ id: 'k1', key: createPublicKey(k1), sign: false }, { id: 'k2', key: k2, sign: true }]);
    assert.ok(await v.verify((await issuerWith([{ id: 'k1', key: k1, sign: true }]).issue('alice', ACCESS)).token));
    assert.throws(() => issuerWith([{ id: 'k1', key: createPublicKey(k1), sign: true }]), /not a private key/);
  });
});

describe('token keys: configuration and the JWK Set', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-token-keys-'));
  const pem = (name: string, key: KeyObject, type: 'private' | 'public' = 'private') => {
    const file = join(dir, name);
    writeFileSync(file, type === 'private' ? (key.export({ type: 'pkcs8', format: 'pem' }) as string) : (createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string));
    return file;
  };
  const base = { upstreams: [{ name: 'u', url: 'https://r.example.com' }] };

  const refusals: [string, unknown, RegExp][] = [
    ['no key signs', { keys: [{ file: 'a.pem' }, { file: 'b.pem' }] }, /exactly one key needs sign: true/],
    ['two keys sign', { keys: [{ file: 'a.pem', sign: true }, { file: 'b.pem', sign: true }] }, /exactly one key needs sign: true/],
    ['a duplicate id', { keys: [{ id: 'x', file: 'a.pem', sign: true }, { id: 'x', file: 'b.pem' }] }, /key ids must be unique/],
    ['keyFile and keys', { keyFile: 'a.pem', keys: [{ file: 'a.pem', sign: true }] }, /give keyFile or keys, not both/],
    ['an id with a space', { keys: [{ id: 'a b', file: 'a.pem', sign: true }] }, /letters, digits/],
  ];
  for (const [what, token, message] of refusals) {
    it(`refuses ${what}`, () => {
      const r = registrySchema.safeParse({ ...base, token });
      assert.equal(r.success, false);
      assert.match(JSON.stringify(r.error!.issues), message);
    });
  }

  it('the CLI exits 2 naming registry.token.keys[N].file for a missing file and for a signing public key', async () => {
    const signer = pem('signer.pem', ec());
    const pub = pem('pub.pem', ec(), 'public');
    for (const [keys, expected] of [
      [`[{file: ${signer}, sign: true}, {file: ${join(dir, 'missing.pem')}}]`, /registry\.token\.keys\[1\]\.file: .*no such file/],
      [`[{file: ${pub}, sign: true}]`, /registry\.token\.keys: the key with sign: true must be a private key/],
    ] as const) {
      const file = join(dir, 'c.yml');
      writeFileSync(file, `registry:\n  listen: 127.0.0.1:0\n  metricsListen: ""\n  token: {keys: ${keys}}\n  upstreams: [{name: u, url: "http://127.0.0.1:5000"}]\n`);
      await assert.rejects(run(process.execPath, ['--require', 'tsx/cjs', 'bin/main.ts', 'registry', '--config', file], { cwd: ROOT, timeout: 60_000 }), (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 2, err.stderr);
        assert.match(err.stderr, expected);
        return true;
      });
    }
  });

  it('publishes the verifying keys at GET /token/keys when token.publishKeys is set; another service verifies a token with them', async () => {
    const k1 = ec();
    const k2 = ec();
    const facade = await startTestFacade(
      testConfig({ token: { keys: [{ id: 'old', file: pem('old.pem', k1, 'public') }, { id: 'new', file: pem('new.pem', k2), sign: true }], publishKeys: true } }),
    );
    try {
      const res = await fetch(`${facade.url}/token/keys`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /application\/jwk-set\+json/);
      const jwks = (await res.json()) as { keys: { kid: string; d?: string }[] };
      assert.deepEqual(jwks.keys.map((k) => k.kid), ['old', 'new']);
      assert.ok(jwks.keys.every((k) => k.d === undefined), 'no private part');
      const token = await tokenFor(facade.url, users.alice, 'repository:basic/test/busybox:pull');
      const { payload } = await jwtVerify(token, createLocalJWKSet(jwks as never), { issuer: 'imagegate-registry', audience: 'imagegate-registry' });
      assert.equal(payload.sub, 'alice');
    } finally {
      await facade.close();
    }
    const quiet = await startTestFacade(testConfig());
    try {
      assert.equal((await fetch(`${quiet.url}/token/keys`)).status, 404, 'not published by default');
    } finally {
      await quiet.close();
    }
  });
});
