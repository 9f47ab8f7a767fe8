import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutboundFixture, send } from './support/fixture';
import { JwtCheckingUpstream } from './support/upstream';

/** A throw-away CA and a certificate it signed for 127.0.0.1 and localhost (real openssl). */
function makeCerts(dir: string): { caFile: string; keyFile: string; certFile: string } {
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe', timeout: 30_000 });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=imagegate test CA', '-keyout', at('ca.key'), '-out', at('ca.pem'));
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', at('server.key'), '-out', at('server.csr'));
  writeFileSync(at('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl('x509', '-req', '-in', at('server.csr'), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', at('san.ext'), '-out', at('server.pem'));
  return { caFile: at('ca.pem'), keyFile: at('server.key'), certFile: at('server.pem') };
}

describe('outbound: TLS (custom CA bundle upstream, HTTPS listener)', () => {
  const fx = new OutboundFixture();
  const dir = mkdtempSync(join(tmpdir(), 'outbound-tls-'));
  let certs: ReturnType<typeof makeCerts>;
  let secure: JwtCheckingUpstream;

  before(async () => {
    certs = makeCerts(dir);
    await fx.start();
    secure = await JwtCheckingUpstream.start({
      jwksUrl: fx.aws.jwksUrl,
      issuer: fx.aws.issuer,
      tls: { key: readFileSync(certs.keyFile, 'utf8'), cert: readFileSync(certs.certFile, 'utf8') },
    });
    secure.audiences = ['https://127.0.0.1'];
  });
  after(async () => {
    await secure?.close();
    await fx.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => fx.reset());

  it('an HTTPS upstream signed by UPSTREAM_CA_FILE is trusted, with audience https://host', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: secure.host, UPSTREAM_SCHEME: 'https', UPSTREAM_CA_FILE: certs.caFile });
    const answer = await send(port);
    assert.equal(answer.status, 200, answer.body);
    assert.equal(JSON.parse(answer.body).claims.aud, 'https://127.0.0.1');
  });

  it('without the CA bundle the same upstream is refused → 502, no token sent', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: secure.host, UPSTREAM_SCHEME: 'https' });
    secure.reset();
    const answer = await send(port);
    assert.equal(answer.status, 502);
    assert.equal(secure.calls.length, 0);
  });

  it('TLS_CERT and TLS_KEY make the proxy listen with HTTPS', async () => {
    const { port } = await fx.proxy({ UPSTREAM_HOST: fx.upstream.host, TLS_CERT: certs.certFile, TLS_KEY: certs.keyFile });
    fx.upstream.audiences = ['http://127.0.0.1'];
    const status = await new Promise<number>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port, path: '/echo', ca: readFileSync(certs.caFile), timeout: 10_000 }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
    assert.equal(status, 200);
  });
});

