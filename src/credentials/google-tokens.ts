import { Compute, GoogleAuth } from 'google-auth-library';
import { decodeJwt } from 'jose';
import { Secret } from '../log/secret';
import { CredentialError } from './errors';
import type { TokenCache } from './token-cache';

/** Scope of minted access tokens unless a rule says otherwise (what Artifact Registry and GCR accept). */
export const DEFAULT_GCP_SCOPES = ['https://www.googleapis.com/auth/cloud-platform'];

/** A minted Google token. */
export interface GoogleToken {
  token: Secret;
  expiresAt: Date;
}

export interface AccessTokenRequest {
  /** OAuth2 scopes. Default cloud-platform. */
  scopes?: string[];
  /**
   * An external-account (workload identity federation) credentials file, e.g.
   * AWS → GCP; default: the metadata server (the node's or Workload Identity's
   * service account).
   */
  credentialsFile?: string;
  /** Refresh this long before expiry (capped at half the lifetime). Default 5 min. */
  refreshSkewMs?: number;
}

export interface IdTokenRequest {
  /** `aud` of the token. */
  audience: string;
  /** Refresh this long before expiry (capped at half the lifetime). Default 5 min. */
  refreshSkewMs?: number;
}

/** Default refresh skew for Google tokens (they live one hour). */
export const GOOGLE_SKEW_MS = 5 * 60_000;

/**
 * Google access and ID tokens through google-auth-library — the metadata
 * server (its host from GCE_METADATA_HOST, as gcp-metadata reads it) or an
 * external-account file — behind the shared token cache: one key per scope
 * set (and credentials file) or per audience, refreshed ahead, concurrent
 * misses sharing one call, the still-valid token served while the metadata
 * server is down. Safe under concurrency.
 */
export class GoogleTokens {
  private readonly compute = new Compute();

  constructor(private readonly cache: TokenCache) {}

  /** An OAuth2 access token (for registries: user `oauth2accesstoken`). Rejects with CredentialError. */
  accessToken(request: AccessTokenRequest = {}): Promise<GoogleToken> {
    const scopes = [...new Set(request.scopes ?? DEFAULT_GCP_SCOPES)].sort();
    const key = `gcp-access-token:${request.credentialsFile ?? 'metadata'}|${scopes.join(',')}`;
    return this.cache.get(key, () => this.mintAccess(scopes, request.credentialsFile), { skewMs: request.refreshSkewMs ?? GOOGLE_SKEW_MS });
  }

  /** A Google-signed ID token for `audience` from the metadata server (`format=full`). Rejects with CredentialError. */
  idToken(request: IdTokenRequest): Promise<GoogleToken> {
    const key = `gcp-id-token:${request.audience}`;
    return this.cache.get(key, () => this.mintId(request.audience), { skewMs: request.refreshSkewMs ?? GOOGLE_SKEW_MS });
  }

  private async mintAccess(scopes: string[], file: string | undefined): Promise<{ value: GoogleToken; expiresAt: number }> {
    let token: string | null | undefined;
    let expiry: number | null | undefined;
    try {
      if (file) {
        // A fresh client per mint, as for Compute below: the library would otherwise keep its own token cache.
        const client = await new GoogleAuth({ keyFile: file, scopes }).getClient();
        token = (await client.getAccessToken()).token;
        expiry = client.credentials.expiry_date;
      } else {
        const { credentials } = await new Compute({ scopes }).refreshAccessToken();
        token = credentials.access_token;
        expiry = credentials.expiry_date;
      }
    } catch (err) {
      throw explain('gcp-access-token', file ? `workload identity federation (${file})` : 'the metadata server', err);
    }
    if (!token || !expiry) throw new CredentialError('gcp-access-token', 'Google answered without an access token or its expiry', 'unknown');
    return { value: { token: new Secret(token), expiresAt: new Date(expiry) }, expiresAt: expiry };
  }

  private async mintId(audience: string): Promise<{ value: GoogleToken; expiresAt: number }> {
    let jwt: string;
    try {
      // google-auth-library puts the audience into the query as is: encode it here so that `&` or `#` cannot change the request.
      jwt = await this.compute.fetchIdToken(encodeURIComponent(audience));
    } catch (err) {
      throw explain('gcp-id-token', 'the metadata server', err);
    }
    let exp: number | undefined;
    try {
      exp = decodeJwt(jwt).exp;
    } catch {
      exp = undefined;
    }
    if (typeof jwt !== 'string' || !exp) throw new CredentialError('gcp-id-token', 'the metadata server answered something that is not an ID token', 'unknown');
    return { value: { token: new Secret(jwt), expiresAt: new Date(exp * 1000) }, expiresAt: exp * 1000 };
  }
}

/** A CredentialError naming the source and the cause, never a token. */
function explain(provider: string, source: string, err: unknown): CredentialError {
  if (err instanceof CredentialError) return err;
  const e = err as { status?: number; code?: string; message?: string; response?: { status?: number } };
  const status = e.status ?? e.response?.status;
  const host = source === 'the metadata server' ? ` at ${process.env.GCE_METADATA_IP || process.env.GCE_METADATA_HOST || '169.254.169.254'}` : '';
  if (status) return new CredentialError(provider, `${source}${host} answered HTTP ${status}: ${firstLine(e.message)}`, String(status), { cause: err });
  const transport = typeof e.code === 'string' && /^E[A-Z]+/.test(e.code);
  const code = transport ? 'transport' : 'unknown';
  const why = transport ? `is not reachable (${e.code})` : `failed: ${firstLine(e.message)}`;
  return new CredentialError(provider, `${source}${host} ${why}`, code, { cause: err });
}

function firstLine(text: string | undefined): string {
  return (text ?? 'unknown error').split('\n')[0].slice(0, 300);
}
