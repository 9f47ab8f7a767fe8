/**
 * A real OpenID Connect issuer (the `oidc-provider` package, ESM-only) on
 * loopback, for the `jwt` and `oauth2-introspection` authenticators: one
 * confidential client with the client_credentials grant; access tokens are
 * JWTs when a resource indicator is given, opaque otherwise; introspection on.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';

export const OIDC_CLIENT_ID = 'imagegate-registry-test';
export const OIDC_CLIENT_SECRET = 'oidc-client-s3cret-for-tests-only';
/** The resource (audience) JWT access tokens are minted for. */
export const OIDC_RESOURCE = 'https://registry.imagegate.test';

/** A real ESM `import()` that survives the CommonJS transform. */
const importEsm = new Function('s', 'return import(s)') as (s: string) => Promise<{ default: new (...args: unknown[]) => OidcProvider }>;

interface OidcProvider {
  callback(): http.RequestListener;
}

export interface OidcIssuer {
  issuer: string;
  introspectionUrl: string;
  /** A client_credentials access token: a JWT for OIDC_RESOURCE, or opaque when `resource` is false. */
  token(resource?: boolean): Promise<string>;
  close(): Promise<void>;
}

/** Starts the issuer on 127.0.0.1 with an ephemeral port. */
export async function startOidcIssuer(): Promise<OidcIssuer> {
  const { default: Provider } = await importEsm('oidc-provider');
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [{ client_id: OIDC_CLIENT_ID, client_secret: OIDC_CLIENT_SECRET, grant_types: ['client_credentials'], redirect_uris: [], response_types: [] }],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'test-rs256', alg: 'RS256', use: 'sig' }] },
    scopes: ['pull'],
    ttl: { ClientCredentials: 300 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: () => true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string) => ({ scope: 'pull', audience: resource, accessTokenFormat: 'jwt', accessTokenTTL: 300 }),
      },
    },
  });
  server.on('request', provider.callback());

  async function token(resource = true): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials', scope: resource ? 'pull' : '' });
    if (resource) form.set('resource', OIDC_RESOURCE);
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      body: form,
      headers: { authorization: `Basic ${Buffer.from(`${OIDC_CLIENT_ID}:${OIDC_CLIENT_SECRET}`).toString('base64')}` },
    });
    const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
    if (!body.access_token) throw new Error(`oidc-provider gave no token: ${res.status} ${body.error} ${body.error_description}`);
    return body.access_token;
  }

  return {
    issuer,
    introspectionUrl: `${issuer}/token/introspection`,
    token,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
