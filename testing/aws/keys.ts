import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';

/** The two signing algorithms GetWebIdentityToken offers. */
export type SigningAlgorithm = 'RS256' | 'ES384';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

/**
 * The stand-in's token signing keys: one RSA 2048 key (kid `RSA_1`) and one
 * EC P-384 key (kid `EC384_1`), as AWS publishes one key per algorithm.
 */
export class SigningKeys {
  private constructor(
    private readonly keys: Record<SigningAlgorithm, { kid: string; privateKey: PrivateKey; jwk: JWK }>,
  ) {}

  static async generate(): Promise<SigningKeys> {
    const rsa = await generateKeyPair('RS256', { modulusLength: 2048 });
    const ec = await generateKeyPair('ES384');
    const entry = async (kid: string, alg: SigningAlgorithm, pair: typeof rsa) => ({
      kid,
      privateKey: pair.privateKey,
      jwk: { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' },
    });
    return new SigningKeys({ RS256: await entry('RSA_1', 'RS256', rsa), ES384: await entry('EC384_1', 'ES384', ec) });
  }

  /** The public JWKS document served at `/.well-known/jwks.json`. */
  jwks(): { keys: JWK[] } {
    return { keys: [this.keys.RS256.jwk, this.keys.ES384.jwk] };
  }

  /** Signs `payload` as a compact JWT with header `{alg, kid, typ: JWT}`. */
  sign(alg: SigningAlgorithm, payload: JWTPayload): Promise<string> {
    const key = this.keys[alg];
    return new SignJWT(payload).setProtectedHeader({ alg, kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
  }
}
