import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

/** One JWT a pull carried, after verification. */
export interface VerifiedJwt {
  /** `basic` (the JWT as password) or `bearer` (a registry token). */
  as: 'basic' | 'bearer';
  username?: string;
  payload: JWTPayload;
}

/**
 * A registry front on loopback that accepts only STS JWTs verifying against
 * the AWS stand-in's JWKS (signature, issuer, audience, expiry) — as Basic
 * password or as Bearer token — and passes accepted requests on to a real
 * docker-registry. Everything else gets 401 with a Basic challenge.
 */
export class JwtRegistry {
  readonly verified: VerifiedJwt[] = [];
  readonly rejected: string[] = [];
  /** The challenge answered with 401: Docker sends a registry token only to a Bearer challenge. Default basic. */
  challenge: 'basic' | 'bearer' = 'basic';

  private constructor(
    private readonly server: http.Server,
    readonly host: string,
  ) {}

  static async start(options: { issuer: string; jwksUrl: string; upstream: string }): Promise<JwtRegistry> {
    const jwks = createRemoteJWKSet(new URL(options.jwksUrl));
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const front = new JwtRegistry(server, host);
    server.on('request', (req, res) => {
      front.check(req.headers.authorization, jwks, options.issuer).then((ok) => {
        const challenge = front.challenge === 'basic' ? 'Basic realm="sts-jwt"' : `Bearer realm="http://${host}/token",service="${host}"`;
        if (!ok) return void res.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED","message":"JWT required"}]}');
        const headers = { ...req.headers, host: options.upstream };
        delete headers.authorization;
        const up = http.request({ host: options.upstream.split(':')[0], port: Number(options.upstream.split(':')[1]), method: req.method, path: req.url, headers }, (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        });
        up.on('error', () => res.writeHead(502).end());
        req.pipe(up);
      });
    });
    return front;
  }

  /** The expected audience: what sts-jwt sends by default for this host. */
  get audience(): string {
    return `https://${this.host}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async check(header: string | undefined, jwks: ReturnType<typeof createRemoteJWKSet>, issuer: string): Promise<boolean> {
    if (!header) return false;
    const [scheme, value = ''] = header.split(' ');
    let as: VerifiedJwt['as'];
    let username: string | undefined;
    let jwt: string;
    if (/^basic$/i.test(scheme)) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      [username, jwt] = [decoded.slice(0, decoded.indexOf(':')), decoded.slice(decoded.indexOf(':') + 1)];
      as = 'basic';
    } else if (/^bearer$/i.test(scheme)) {
      [as, jwt] = ['bearer', value];
    } else return false;
    try {
      const { payload } = await jwtVerify(jwt, jwks, { issuer, audience: this.audience, algorithms: ['RS256', 'ES384'], requiredClaims: ['exp', 'iat', 'sub'] });
      this.verified.push({ as, username, payload });
      return true;
    } catch (err) {
      this.rejected.push((err as Error).message);
      return false;
    }
  }
}
