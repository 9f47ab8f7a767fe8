import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

/** What a service-account token is for. */
export interface TokenFor {
  namespace: string;
  name: string;
  /** Default `sts.amazonaws.com` (the audience kubelet's tokenAttributes would ask for). */
  audience?: string;
  /** Seconds until expiry; negative for an expired token. Default 3600. */
  expiresIn?: number;
}

/**
 * A Kubernetes cluster's service-account token issuer on loopback: signs
 * tokens shaped like kube-apiserver's bound tokens (RS256, `sub`
 * `system:serviceaccount:<ns>:<name>`, the `kubernetes.io` claims with
 * namespace, pod and service account) and serves OIDC discovery and its
 * JWKS, as a cluster's issuer does for IAM's OIDC provider.
 */
export class ClusterIssuer {
  private constructor(
    private readonly server: http.Server,
    readonly issuer: string,
    private readonly key: PrivateKey,
    private readonly kid: string,
    private readonly forger: PrivateKey,
  ) {}

  static async start(): Promise<ClusterIssuer> {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { modulusLength: 2048 });
    const forger = (await generateKeyPair('RS256', { modulusLength: 2048 })).privateKey;
    const kid = randomUUID();
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('request', (req, res) => {
      const send = (doc: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
      if (req.url === '/.well-known/openid-configuration') return send({ issuer, jwks_uri: `${issuer}/openid/v1/jwks`, response_types_supported: ['id_token'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'] });
      if (req.url === '/openid/v1/jwks') return send({ keys: [jwk] });
      res.writeHead(404).end();
    });
    return new ClusterIssuer(server, issuer, privateKey, kid, forger);
  }

  get jwksUrl(): string {
    return `${this.issuer}/openid/v1/jwks`;
  }

  /** A token for the service account, signed with the issuer's key. */
  token(t: TokenFor): Promise<string> {
    return this.sign(t, this.key);
  }

  /** The same token signed with a key the issuer never published (same kid): a forgery. */
  forged(t: TokenFor): Promise<string> {
    return this.sign(t, this.forger);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private sign(t: TokenFor, key: PrivateKey): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + (t.expiresIn ?? 3600);
    return new SignJWT({
      'kubernetes.io': {
        namespace: t.namespace,
        node: { name: 'node-1', uid: randomUUID() },
        pod: { name: `${t.name}-pod`, uid: randomUUID() },
        serviceaccount: { name: t.name, uid: randomUUID() },
      },
    })
      .setProtectedHeader({ alg: 'RS256', kid: this.kid })
      .setIssuer(this.issuer)
      .setSubject(`system:serviceaccount:${t.namespace}:${t.name}`)
      .setAudience([t.audience ?? 'sts.amazonaws.com'])
      .setIssuedAt(Math.min(now, exp - 60))
      .setNotBefore(Math.min(now, exp - 60))
      .setExpirationTime(exp)
      .sign(key);
  }
}
