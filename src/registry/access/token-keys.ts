import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

/** One configured key: a private key (may sign) or a public key (verifies only); `id` is the `kid`, default its thumbprint. */
export interface TokenKey {
  id?: string;
  key: KeyObject;
  sign: boolean;
}

/** A JWK Set of public EC keys. */
export interface PublicJwks {
  keys: { kty: 'EC'; crv: string; x: string; y: string; kid: string; alg: 'ES256'; use: 'sig' }[];
}

interface Entry {
  kid: string;
  publicKey: KeyObject;
  jwk: { crv: string; x: string; y: string };
}

/**
 * The facade's token keys: several verify, one signs, each named by a `kid`
 * carried in every token's header. With no keys configured one is generated
 * (tokens then die with the process). Rotation across replicas, with no token
 * refused at any step: (1) add the new key everywhere (it verifies only);
 * (2) move `sign` to it everywhere — every replica already verifies both, so
 * tokens from old and new signers are accepted throughout the rollout;
 * (3) once the old signer's last token has expired (`token.ttl` after step 2
 * finished), remove the old key.
 */
export class TokenKeys {
  readonly signer: { kid: string; privateKey: KeyObject };
  readonly #byKid = new Map<string, Entry>();

  constructor(keys?: TokenKey[]) {
    const list = keys && keys.length > 0 ? keys : [{ key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, sign: true }];
    let signer: TokenKeys['signer'] | undefined;
    for (const k of list) {
      const publicKey = k.key.type === 'private' ? createPublicKey(k.key) : k.key;
      const jwk = publicKey.export({ format: 'jwk' }) as { crv: string; x: string; y: string };
      const kid = k.id ?? thumbprint(jwk);
      if (this.#byKid.has(kid)) throw new Error(`two token keys with kid ${kid}`);
      this.#byKid.set(kid, { kid, publicKey, jwk: { crv: jwk.crv, x: jwk.x, y: jwk.y } });
      if (k.sign) {
        if (k.key.type !== 'private') throw new Error(`token key ${kid} signs but is not a private key`);
        if (signer) throw new Error('more than one token key signs');
        signer = { kid, privateKey: k.key };
      }
    }
    if (!signer) throw new Error('no token key signs');
    this.signer = signer;
  }

  /** The public key for a token's `kid`; a token without `kid` (issued before keys had ids) is checked against the signer. */
  verifierFor(kid: string | undefined): KeyObject {
    const entry = this.#byKid.get(kid ?? this.signer.kid);
    if (!entry) throw new Error('unknown kid');
    return entry.publicKey;
  }

  jwks(): PublicJwks {
    return { keys: [...this.#byKid.values()].map((e) => ({ kty: 'EC', ...e.jwk, kid: e.kid, alg: 'ES256', use: 'sig' })) };
  }
}

/** RFC 7638 thumbprint of an EC public JWK (base64url SHA-256 of its required members in lexical order). */
export function thumbprint(jwk: { crv: string; x: string; y: string }): string {
  return createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: 'EC', x: jwk.x, y: jwk.y })).digest('base64url');
}
