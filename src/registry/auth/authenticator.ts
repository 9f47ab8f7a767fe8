import type { Factories, Factory } from '../../lib/factory-registry';
import type { Logger } from '../../log/logger';
import type { Secret } from '../../log/secret';

/** Who a client is, once an authenticator has allowed it. */
export interface Identity {
  /** Account name (user name, JWT `sub`, LDAP uid…). */
  name: string;
  groups: string[];
  /** Claims of a verified token, or attributes from a directory; used by authorization rules. */
  claims: Record<string, unknown>;
  /** The authenticator that allowed it (its configured name). */
  authenticator: string;
}

/** The credentials a client presented: Basic user/password, or a bearer token. */
export type ClientCredentials =
  | { kind: 'basic'; username: string; password: Secret }
  | { kind: 'bearer'; token: Secret };

/** Facts about the request an authenticator may use (never the credentials again). */
export interface AuthContext {
  clientIp: string;
  /** The repository the client asked about, when known (token scope or request path). */
  repository?: string;
}

/**
 * An authenticator's answer. `abstain` means "not mine" (unknown user, a token
 * from another issuer): the chain asks the next one. `deny` means "mine, and
 * wrong" (bad password, expired token): the chain stops and refuses. An
 * authenticator that cannot reach its backend (LDAP down, webhook timeout)
 * answers `deny` — an auth service fails closed.
 */
export type AuthDecision =
  | { kind: 'allow'; identity: Identity }
  | { kind: 'deny'; reason: string }
  | { kind: 'abstain' };

/**
 * One way of checking client credentials: htpasswd, static, jwt, ldap,
 * oauth2-introspection, webhook, or a module of the user's own.
 *
 * Must be safe under concurrency. Must never throw for bad credentials (that
 * is `deny`); a thrown error is treated as `deny` and logged. `reason` is for
 * logs and must not contain the secret. `close()` releases connections and
 * file watchers once, at shutdown.
 */
export interface Authenticator {
  /** The name it was configured under, for logs and metrics. */
  readonly name: string;
  authenticate(credentials: ClientCredentials, context: AuthContext): Promise<AuthDecision>;
  close(): Promise<void>;
}

/** What a factory gets besides its own options. */
export interface AuthenticatorEnv {
  /** Configured name of this authenticator (unique in the chain). */
  name: string;
  logger: Logger;
  /** Folder relative paths in the options are resolved against (the config file's). */
  baseDir: string;
  /** Path of this entry in the config, for ConfigError messages, e.g. `auth.chain[2].ldap`. */
  configPath: string;
}

/**
 * A named authenticator factory: `params`, the zod schema of its options,
 * checked by the registry before `create` (a wrong one is a ConfigError naming
 * `${env.configPath}.<field>`, so that start-up fails with one clear line);
 * `create` may still throw a ConfigError for what a schema cannot check (an
 * unreadable file).
 */
export type AuthenticatorFactory<P = unknown> = Factory<P, AuthenticatorEnv, Authenticator | Promise<Authenticator>>;

/** Named authenticator factories (the chain's `{<type>: options}` entries look theirs up here). */
export type AuthenticatorFactories = Factories<AuthenticatorEnv, Authenticator | Promise<Authenticator>>;

/**
 * The factory a `module` plugin exports: called with its `options` as written
 * (it checks them itself) and the usual env.
 */
export type PluginAuthenticatorFactory = (options: unknown, env: AuthenticatorEnv) => Authenticator | Promise<Authenticator>;
