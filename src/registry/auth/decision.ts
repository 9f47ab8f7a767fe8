import type { AuthContext, AuthDecision, Authenticator, ClientCredentials } from './authenticator';

/** One authenticator's answer as the chain sees it, with how it is counted. */
export interface GuardedDecision {
  decision: AuthDecision;
  counted: 'allow' | 'deny' | 'abstain' | 'error';
  /** Why it was turned into deny: a throw, a timeout or a malformed answer. */
  error?: string;
}

/**
 * Calls one authenticator and makes its answer safe to act on: a throw, a
 * timeout or anything that is not a well-formed decision becomes deny (fail
 * closed), and an allowed identity is normalised and stamped with `name`.
 */
export async function guardDecision(
  authenticator: Authenticator,
  name: string,
  credentials: ClientCredentials,
  context: AuthContext,
  timeoutMs: number,
): Promise<GuardedDecision> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const answer: unknown = await Promise.race([authenticator.authenticate(credentials, context), timeout]);
    return checked(answer, name);
  } catch (err) {
    const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    return { decision: { kind: 'deny', reason: 'authenticator failed' }, counted: 'error', error };
  } finally {
    clearTimeout(timer);
  }
}

function checked(answer: unknown, name: string): GuardedDecision {
  const bad = (what: string): GuardedDecision => ({ decision: { kind: 'deny', reason: 'authenticator failed' }, counted: 'error', error: what });
  if (answer === null || typeof answer !== 'object') return bad(`answered ${String(answer)} instead of a decision`);
  const a = answer as Record<string, unknown>;
  if (a.kind === 'abstain') return { decision: { kind: 'abstain' }, counted: 'abstain' };
  if (a.kind === 'deny') return { decision: { kind: 'deny', reason: typeof a.reason === 'string' ? a.reason : 'denied' }, counted: 'deny' };
  if (a.kind !== 'allow') return bad(`answered kind ${JSON.stringify(a.kind)}`);
  const id = a.identity as Record<string, unknown> | undefined;
  if (!id || typeof id.name !== 'string' || id.name === '') return bad('allowed without an identity name');
  const groups = Array.isArray(id.groups) ? id.groups.filter((g): g is string => typeof g === 'string') : [];
  const claims = id.claims && typeof id.claims === 'object' ? (id.claims as Record<string, unknown>) : {};
  return { decision: { kind: 'allow', identity: { name: id.name, groups, claims, authenticator: name } }, counted: 'allow' };
}

/** Replaces any occurrence of the presented secret in a log text by `***`. */
export function scrubSecrets(text: string, credentials: ClientCredentials): string {
  const secret = credentials.kind === 'basic' ? credentials.password.reveal() : credentials.token.reveal();
  if (secret.length < 4) return text;
  return text.split(secret).join('***');
}
