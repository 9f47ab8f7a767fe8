/*
 * For the facade (how to use the chain):
 *
 *   import { createAuthChain } from './auth/chain';
 *   const chain = await createAuthChain(config.auth.chain, {
 *     logger, baseDir: dirname(configFile), configPath: 'auth.chain', metrics: { metricsRegistry },
 *   });                                    // throws ConfigError (path-qualified) → CLI exits 2
 *   const decision = await chain.authenticate(
 *     { kind: 'basic', username, password: new Secret(password) },   // or { kind: 'bearer', token: new Secret(t) }
 *     { clientIp: req.ip, repository },
 *   );                                     // never throws; 'allow' | 'deny' (never 'abstain')
 *   if (decision.kind === 'allow') use(decision.identity);  // {name, groups, claims, authenticator}
 *   await chain.close();                   // at shutdown
 *
 * `entries` is the YAML list as parsed (unknown), e.g.
 *   [{htpasswd: {file: users.htpasswd}}, {name: corp, ldap: {url: ..., ...}}]
 * Custom types: pass `factories: builtinAuthenticatorFactories().register({ name: 'mine', params, create })`.
 * Metrics: counter imagegate_registry_auth_decisions_total{authenticator,result}.
 */
import type { Counter, Registry } from 'prom-client';
import { ConfigError } from '../../config/errors';
import type { Logger } from '../../log/logger';
import type { AuthContext, AuthDecision, Authenticator, AuthenticatorFactories, ClientCredentials } from './authenticator';
import { builtinAuthenticatorFactories } from './builtins';
import { type DecisionCounter, decisionCounter } from './chain-metrics';
import { guardDecision, scrubSecrets } from './decision';

/** The ordered chain: the first allow or deny wins, abstain asks the next, the end denies. */
export interface AuthChain {
  /** Configured names, in order. */
  readonly names: readonly string[];
  /** Never throws and never abstains: the answer is allow or deny. */
  authenticate(credentials: ClientCredentials, context: AuthContext): Promise<AuthDecision>;
  /** Closes every authenticator once. */
  close(): Promise<void>;
}

export interface AuthChainEnv {
  logger: Logger;
  /** Folder relative paths in options are resolved against (the config file's). */
  baseDir: string;
  /** Where the entries sit in the config, for messages. Default `auth.chain`. */
  configPath?: string;
  /** Authenticator factories by type. Default: the built-ins. */
  factories?: AuthenticatorFactories;
  /** A counter to count decisions in, or a prom-client registry to create it in. */
  metrics?: { counter?: Counter<'authenticator' | 'result'>; metricsRegistry?: Registry };
  /** Longest one authenticator may take before it counts as deny. Default 10 s. */
  timeoutMs?: number;
}

const ENTRY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Validates `entries`, builds every authenticator (failing start-up on any problem), and returns the chain. */
export async function createAuthChain(entries: unknown, env: AuthChainEnv): Promise<AuthChain> {
  const configPath = env.configPath ?? 'auth.chain';
  const factories = env.factories ?? builtinAuthenticatorFactories();
  if (!Array.isArray(entries)) throw new ConfigError(configPath, 'must be a list of authenticators');
  const specs = entries.map((entry, i) => entrySpec(entry, `${configPath}[${i}]`, factories));
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.name)) throw new ConfigError(`${spec.path}.name`, `duplicate authenticator name "${spec.name}"; give each entry a unique name`);
    seen.add(spec.name);
  }
  const built: Authenticator[] = [];
  try {
    for (const spec of specs) {
      const logger = env.logger.child({ authenticator: spec.name });
      const at = `${spec.path}.${spec.type}`;
      try {
        built.push(await factories.create(spec.type, spec.options, { name: spec.name, logger, baseDir: env.baseDir, configPath: at }, at));
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        throw new ConfigError(`${spec.path}.${spec.type}`, (err as Error)?.message ?? String(err));
      }
    }
  } catch (err) {
    await Promise.allSettled(built.map((a) => a.close()));
    throw err;
  }
  if (built.length === 0) env.logger.warn('auth chain is empty: every login is denied');
  return new Chain(built, specs.map((s) => s.name), env.logger, decisionCounter(env.metrics), env.timeoutMs ?? 10_000);
}

interface EntrySpec {
  path: string;
  name: string;
  type: string;
  options: unknown;
}

function entrySpec(entry: unknown, path: string, factories: AuthenticatorFactories): EntrySpec {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
    throw new ConfigError(path, 'must be an object with one authenticator type, e.g. {htpasswd: {file: users.htpasswd}}');
  }
  const { name, ...rest } = entry as Record<string, unknown>;
  const types = Object.keys(rest);
  if (types.length !== 1) {
    const found = types.length === 0 ? 'none' : types.join(', ');
    throw new ConfigError(path, `needs exactly one authenticator type (${factories.names().join(', ')}), found ${found}`);
  }
  const type = types[0];
  factories.require(type, `${path}.${type}`);
  if (name !== undefined && (typeof name !== 'string' || !ENTRY_NAME.test(name))) {
    throw new ConfigError(`${path}.name`, 'must be letters, digits, ".", "_" or "-" (at most 63)');
  }
  return { path, name: (name as string | undefined) ?? type, type, options: rest[type] };
}

class Chain implements AuthChain {
  #closed?: Promise<void>;

  constructor(
    readonly authenticators: readonly Authenticator[],
    readonly names: readonly string[],
    readonly logger: Logger,
    readonly counter: DecisionCounter,
    readonly timeoutMs: number,
  ) {}

  async authenticate(credentials: ClientCredentials, context: AuthContext): Promise<AuthDecision> {
    const who = { user: credentials.kind === 'basic' ? credentials.username.slice(0, 64) : '(bearer)', clientIp: context.clientIp };
    for (const [i, authenticator] of this.authenticators.entries()) {
      const name = this.names[i];
      const decision = await guardDecision(authenticator, name, credentials, context, this.timeoutMs);
      this.counter.inc({ authenticator: name, result: decision.counted });
      if (decision.error) {
        this.logger.warn('authenticator failed; counted as deny', { ...who, authenticator: name, error: scrubSecrets(decision.error, credentials) });
      }
      const answer = decision.decision;
      if (answer.kind === 'abstain') continue;
      if (answer.kind === 'deny') {
        this.logger.info('login denied', { ...who, authenticator: name, reason: scrubSecrets(answer.reason, credentials) });
      } else {
        this.logger.debug('login allowed', { ...who, authenticator: name, identity: answer.identity.name });
      }
      return answer;
    }
    this.counter.inc({ authenticator: '(end of chain)', result: 'deny' });
    this.logger.info('login denied: no authenticator recognised the credentials', who);
    return { kind: 'deny', reason: 'no authenticator recognised the credentials' };
  }

  close(): Promise<void> {
    this.#closed ??= Promise.allSettled(this.authenticators.map((a) => a.close())).then((results) => {
      for (const [i, r] of results.entries()) {
        if (r.status === 'rejected') this.logger.warn('authenticator close failed', { authenticator: this.names[i], error: String(r.reason) });
      }
    });
    return this.#closed;
  }
}
