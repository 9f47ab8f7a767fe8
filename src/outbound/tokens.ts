import type { Registry } from 'prom-client';
import type { AwsOptions } from '../credentials/aws-clients';
import { createCredentialServices } from '../credentials/services';
import type { MintedJwt } from '../credentials/web-identity-tokens';
import type { OutboundSettings } from './settings';
import type { TokenSource } from './token-source';

/** The proxy's token source and its lifecycle. */
export interface StsTokens {
  get: TokenSource;
  /** As `get`, with the token's expiry: what the primary hands to its workers (src/outbound/worker-tokens.ts). */
  minted(audiences: readonly string[]): Promise<MintedJwt>;
  /**
   * As `get`, but a key held back after a failed mint (no valid token, inside
   * its backoff period) is minted now: for the readiness probe, whose rate the
   * kubelet bounds; requests use `get`.
   */
  probe: TokenSource;
  /** Stops background refreshes and releases the SDK clients. */
  close(): Promise<void>;
}

export interface StsTokenDeps {
  /** Where the shared cache's metrics go (hits, misses, mints, AWS errors by code, seconds to expiry). */
  registry: Registry;
  /** Region, endpoint and credentials; default the SDK's chain (AWS_REGION, AWS_ENDPOINT_URL_STS, IRSA …). */
  aws?: AwsOptions;
}

/**
 * Tokens from STS GetWebIdentityToken through the shared token cache and the
 * `sts-jwt` minting code of src/credentials (one implementation with the image
 * service): background refresh with jitter TOKEN_REFRESH_SKEW before expiry,
 * one STS call per audience set however many requests wait, the still-valid
 * token served while STS fails, never an expired one; with no valid token, one
 * STS call per backoff period (1 s doubling to 30 s) however requests arrive,
 * the others answered with its failure.
 */
export function createStsTokenSource(settings: OutboundSettings, deps: StsTokenDeps): StsTokens {
  const creds = createCredentialServices({ aws: deps.aws, metrics: deps.registry });
  const tags = Object.keys(settings.tokenTags).length > 0 ? settings.tokenTags : undefined;
  const minted = (audiences: readonly string[]) =>
    creds.jwts.get({
      audiences: [...audiences],
      algorithm: settings.tokenSigningAlgorithm,
      durationSeconds: settings.tokenDurationSeconds,
      refreshSkewMs: settings.tokenRefreshSkewMs,
      tags,
      tagsSetting: 'TOKEN_TAGS',
    });
  const get: TokenSource = async (audiences) => (await minted(audiences)).token;
  return {
    get,
    minted,
    probe: (audiences) => creds.cache.retryNow(() => get(audiences)),
    close: async () => creds.close(),
  };
}
