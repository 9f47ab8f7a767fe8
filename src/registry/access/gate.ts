import type { Logger } from '../../log/logger';
import type { AuthContext, AuthDecision, ClientCredentials, Identity } from '../auth/authenticator';
import type { AuthChain } from '../auth/chain';
import { RegistryError } from '../errors';
import type { RegistryMetrics } from '../metrics';
import type { Authorizer } from './authorizer';
import { loginKey } from './credentials';
import type { LoginLimiter } from './login-limiter';
import type { ScopeEntry } from './scope';
import { allows } from './scope';
import type { IssuedToken, TokenIssuer } from './token-issuer';


/** Who is calling: nobody, an identity the chain allowed, or the holder of a facade token. */
export type Caller =
  | { kind: 'anonymous' }
  | { kind: 'identity'; identity: Identity }
  | { kind: 'token'; subject: string; access: ScopeEntry[] };

/** Builds the `WWW-Authenticate` value for a 401 (the realm depends on the request). */
export type ChallengeFor = (scope?: string, error?: string) => string;

export interface AccessGateOptions {
  /** The ordered authenticator chain (auth/chain.ts); denies by default. */
  chain: Pick<AuthChain, 'authenticate'>;
  authorizer: Authorizer;
  issuer: TokenIssuer;
  limiter: LoginLimiter;
  /** Failed and refused logins are answered this long after they arrived (ms; 0 = at once). */
  failureDelayMs?: number;
  logger: Logger;
  metrics?: RegistryMetrics;
}

/**
 * Every access decision of the facade: runs the chain (rate-limited), reads
 * facade tokens, checks `pull` on a repository, and issues tokens limited to
 * the granted scope. Throws RegistryErrors only.
 */
export class AccessGate {
  constructor(private readonly options: AccessGateOptions) {}

  /**
   * Runs the chain; a deny is UNAUTHORIZED. The attempt is counted before the
   * chain runs (see LoginLimiter): over a budget, or with too many logins in
   * flight, it is refused without being queued or checked, with
   * TOOMANYREQUESTS and `Retry-After`. Failed and refused logins are answered
   * `failureDelayMs` after they arrived (only a timer is held), so that a
   * client retrying at once cannot turn refusals into a flood of requests.
   */
  async login(credentials: ClientCredentials, context: AuthContext, challenge: ChallengeFor): Promise<Identity> {
    const { limiter, metrics, logger } = this.options;
    const arrived = Date.now();
    const user = loginKey(credentials);
    const admission = await limiter.admit(context.clientIp, user);
    if (admission.kind === 'refused') {
      await this.#holdFailure(arrived);
      metrics?.authDecisions.inc({ authenticator: 'limiter', result: admission.reason === 'busy' ? 'busy' : 'ratelimited' });
      const message = admission.reason === 'busy' ? 'too many logins in progress; try again shortly' : 'too many failed logins; try again later';
      throw new RegistryError('TOOMANYREQUESTS', message, undefined, { 'retry-after': String(Math.max(1, Math.ceil(admission.retryAfterMs / 1000))) });
    }
    metrics?.loginsInFlight.set(limiter.inFlight);
    let decision: AuthDecision = { kind: 'deny', reason: 'chain failed' };
    try {
      decision = await this.options.chain.authenticate(credentials, context).catch((err: unknown) => {
        logger.error('authenticator chain failed; denying', { error: (err as Error)?.message, user });
        return { kind: 'deny', reason: 'chain failed' } as const;
      });
    } finally {
      admission.ticket.settle(decision.kind === 'allow');
    }
    metrics?.loginsInFlight.set(limiter.inFlight);
    if (decision.kind === 'allow') return decision.identity;
    await this.#holdFailure(arrived);
    throw new RegistryError('UNAUTHORIZED', 'authentication required', undefined, { 'www-authenticate': challenge(undefined, 'invalid_token') });
  }

  async #holdFailure(arrived: number): Promise<void> {
    const wait = arrived + (this.options.failureDelayMs ?? 0) - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  /** Who sent a registry request: a facade token first, then the chain for anything else. */
  async caller(credentials: ClientCredentials | undefined, context: AuthContext, challenge: ChallengeFor): Promise<Caller> {
    if (!credentials) return { kind: 'anonymous' };
    if (credentials.kind === 'bearer') {
      const token = credentials.token.reveal();
      const claims = await this.options.issuer.verify(token);
      if (claims) return { kind: 'token', subject: claims.subject, access: claims.access };
      // An expired (or forged) facade token: the client just fetches a new one. Not a failed login.
      if (this.options.issuer.claimsToBeOurs(token)) {
        throw new RegistryError('UNAUTHORIZED', 'authentication required', undefined, { 'www-authenticate': challenge(scopeOf(context.repository), 'invalid_token') });
      }
    }
    return { kind: 'identity', identity: await this.login(credentials, context, challenge) };
  }

  /** Throws unless the caller may pull `repository`: 401 with a challenge for the scope, or 403 for a known identity without the right. */
  requirePull(caller: Caller, repository: string, challenge: ChallengeFor): void {
    const scope = `repository:${repository}:pull`;
    const detail = [{ Type: 'repository', Name: repository, Action: 'pull' }];
    if (caller.kind === 'token') {
      if (allows(caller.access, repository, 'pull') || this.options.authorizer.actions(undefined, repository).has('pull')) return;
      throw new RegistryError('UNAUTHORIZED', 'authentication required', detail, { 'www-authenticate': challenge(scope, 'insufficient_scope') });
    }
    const identity = caller.kind === 'identity' ? caller.identity : undefined;
    if (this.options.authorizer.actions(identity, repository).has('pull')) return;
    if (!identity) throw new RegistryError('UNAUTHORIZED', 'authentication required', detail, { 'www-authenticate': challenge(scope) });
    throw new RegistryError('DENIED', 'requested access to the resource is denied', detail);
  }

  /** Issues a facade token for the granted part of the requested scopes (possibly nothing, as distribution does). */
  async token(identity: Identity | undefined, requested: ScopeEntry[]): Promise<IssuedToken & { granted: ScopeEntry[] }> {
    const granted = this.options.authorizer.grant(identity, requested);
    const issued = await this.options.issuer.issue(identity?.name ?? '', granted);
    return { ...issued, granted };
  }
}

function scopeOf(repository: string | undefined): string | undefined {
  return repository ? `repository:${repository}:pull` : undefined;
}
