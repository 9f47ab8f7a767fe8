/**
 * A test token issuer for the `auth: token` upstream (docker-registry on
 * 127.0.0.1:5011): `GET /token?service=&scope=` with Basic credentials
 * answers a JWT granting every requested action, signed with the EC key whose
 * certificate the registry trusts (libtrust key id in `kid`). Anonymous
 * requests get a token with no access. `GET /stats` counts tokens issued.
 * Started by .ci/services/60-registry-upstreams.sh:
 *   tsx test/registry/support/token-issuer.ts <port> <key.pem> <user> <password>
 */
import { createHash, createPrivateKey, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';

export interface IssuerOptions {
  port: number;
  keyFile: string;
  username: string;
  password: string;
  service?: string;
  issuer?: string;
  /** Token lifetime in seconds. Default 300. */
  ttl?: number;
}

/** docker/libtrust's key id: SHA-256 of the DER public key, first 240 bits, base32, groups of four. */
export function libtrustKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const hash = createHash('sha256').update(der).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of hash) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{4}/g)!.join(':');
}

export async function startTokenIssuer(options: IssuerOptions): Promise<{ port: number; close(): Promise<void> }> {
  const key = createPrivateKey(readFileSync(options.keyFile));
  const kid = libtrustKeyId(createPublicKey(key));
  let issued = 0;
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://issuer');
      if (url.pathname === '/stats') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issued }));
      if (url.pathname !== '/token') return void res.writeHead(404).end();
      const auth = req.headers.authorization ?? '';
      const decoded = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString() : '';
      const anonymous = decoded === '';
      if (!anonymous && decoded !== `${options.username}:${options.password}`) {
        return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
      }
      const access = anonymous
        ? []
        : url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean).map((s) => {
            const [type, ...rest] = s.split(':');
            const actions = rest.pop()!.split(',');
            return { type, name: rest.join(':'), actions };
          });
      const now = Math.floor(Date.now() / 1000);
      const ttl = options.ttl ?? 300;
      const token = await new SignJWT({ access })
        .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid })
        .setIssuer(options.issuer ?? 'imagegate-test-issuer')
        .setAudience(url.searchParams.get('service') ?? options.service ?? 'imagegate-upstream')
        .setSubject(anonymous ? '' : options.username)
        .setIssuedAt(now)
        .setNotBefore(now - 5)
        .setExpirationTime(now + ttl)
        .setJti(randomUUID())
        .sign(key);
      issued++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: ttl, issued_at: new Date(now * 1000).toISOString() }));
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(options.port, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

if (require.main === module) {
  const [port, keyFile, username, password] = process.argv.slice(2);
  void startTokenIssuer({ port: Number(port), keyFile, username, password }).then((s) => process.stdout.write(`token issuer on 127.0.0.1:${s.port}\n`));
}
