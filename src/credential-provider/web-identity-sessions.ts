import { createHash } from 'node:crypto';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { AwsClients, type AwsOptions } from '../credentials/aws-clients';
import { CredentialError, awsErrorCode, awsErrorText } from '../credentials/errors';
import type { TokenCache } from '../credentials/token-cache';
import type { Secret } from '../log/secret';
import type { ServiceAccount } from './service-account';

/** Sessions are refreshed this long before they end. */
const SESSION_SKEW_MS = 5 * 60_000;

/**
 * Role sessions from STS AssumeRoleWithWebIdentity with a pod's
 * service-account token (an unsigned call: AWS verifies the token against the
 * cluster's OIDC issuer). One cache entry per (role, token), so every new
 * token is verified by AWS once, and a forged or foreign token never reaches
 * a session another token opened. Safe under concurrency.
 */
export class WebIdentitySessions {
  private sts?: STSClient;

  constructor(
    private readonly aws: AwsOptions,
    private readonly cache: TokenCache,
    private readonly durationSeconds: number,
  ) {}

  /** A session for `roleArn` opened with `token`; rejects with CredentialError when AWS refuses the token. */
  get(roleArn: string, token: Secret, account: ServiceAccount): Promise<AwsCredentialIdentity> {
    const key = `sts-web-identity:${roleArn}|${createHash('sha256').update(token.reveal()).digest('hex')}`;
    return this.cache.get(key, () => this.assume(roleArn, token, account), { skewMs: SESSION_SKEW_MS });
  }

  close(): void {
    this.sts?.destroy();
  }

  private async assume(roleArn: string, token: Secret, account: ServiceAccount) {
    this.sts ??= new STSClient({ region: this.aws.region, endpoint: this.aws.endpoints?.sts, maxAttempts: this.aws.maxAttempts ?? 3 });
    let out;
    try {
      out = await this.sts.send(new AssumeRoleWithWebIdentityCommand({
        RoleArn: roleArn, WebIdentityToken: token.reveal(), RoleSessionName: sessionName(account), DurationSeconds: this.durationSeconds,
      }));
    } catch (err) {
      throw new CredentialError('sts', `AssumeRoleWithWebIdentity ${roleArn} with the token of service account ${account.namespace}/${account.name} failed: ${awsErrorText(err)}; nothing was minted`, awsErrorCode(err), { cause: err });
    }
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.Expiration) throw new CredentialError('sts', `AssumeRoleWithWebIdentity ${roleArn} answered without credentials`, 'unknown');
    const value: AwsCredentialIdentity = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
    return { value, expiresAt: c.Expiration.getTime() };
  }
}

/** `imagegate-<namespace>-<name>`, in the characters and length STS allows. */
function sessionName(account: ServiceAccount): string {
  return `imagegate-${account.namespace}-${account.name}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
}

/**
 * AWS clients that sign as one role with sessions opened by
 * AssumeRoleWithWebIdentity: `credentialsFor(role)` answers the latest
 * session `use()` was given, instead of AssumeRole from the node identity.
 * Any valid session for the role will do, so concurrent pulls share clients.
 */
export class WebIdentityClients extends AwsClients {
  private latest?: AwsCredentialIdentity;

  constructor(
    options: AwsOptions,
    cache: TokenCache,
    readonly roleArn: string,
  ) {
    super(options, cache);
  }

  use(session: AwsCredentialIdentity): void {
    this.latest = session;
  }

  override credentialsFor(roleArn?: string): AwsCredentialIdentity | AwsCredentialIdentityProvider | undefined {
    if (roleArn !== this.roleArn) throw new CredentialError('sts', `a pull as role ${this.roleArn} asked for role ${roleArn ?? '(node identity)'}`);
    return async () => {
      if (!this.latest) throw new CredentialError('sts', `no web identity session for ${this.roleArn}`);
      return this.latest;
    };
  }
}
