import { randomBytes, randomUUID } from 'node:crypto';

/** Who signed a request: the principal ARN (`sub` of a JWT) and when its session ends. */
export interface Principal {
  arn: string;
  account: string;
  /** Epoch ms; undefined for long-term keys. */
  sessionExpiresAt?: number;
}

/** A set of temporary credentials handed out by AssumeRole. */
export interface IssuedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiresAt: number;
}

/**
 * Maps access key ids to principals. Keys the stand-in never issued belong to
 * the default principal (the "node role"); keys from AssumeRole belong to the
 * assumed role, so a JWT minted with them has `sub` = that role's ARN.
 */
export class Principals {
  private readonly issued = new Map<string, Principal & { secret: string }>();

  /** `staticKeys`: secrets of the long-term keys the stand-in knows (they belong to the default principal). */
  constructor(
    readonly defaultPrincipal: Principal,
    private readonly staticKeys: Record<string, string>,
  ) {}

  of(accessKeyId: string): Principal {
    return this.issued.get(accessKeyId) ?? this.defaultPrincipal;
  }

  /** The secret of a key the stand-in knows (its static key or one AssumeRole issued); undefined for others. */
  secretOf(accessKeyId: string): string | undefined {
    return this.issued.get(accessKeyId)?.secret ?? this.staticKeys[accessKeyId];
  }

  /** Issues temporary credentials for `roleArn` valid for `seconds`. */
  assume(roleArn: string, seconds: number, now: number): IssuedCredentials {
    const accessKeyId = 'ASIA' + randomBytes(8).toString('hex').toUpperCase();
    const expiresAt = now + seconds * 1000;
    const account = /^arn:aws[a-z-]*:iam::(\d{12}):role\//.exec(roleArn)?.[1] ?? this.defaultPrincipal.account;
    const secretAccessKey = randomBytes(20).toString('base64');
    if (this.issued.size > 10_000) this.issued.clear();
    this.issued.set(accessKeyId, { arn: roleArn, account, sessionExpiresAt: expiresAt, secret: secretAccessKey });
    return { accessKeyId, secretAccessKey, sessionToken: randomUUID() + randomUUID(), expiresAt };
  }
}
