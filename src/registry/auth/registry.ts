import { ConfigError } from '../../config/errors';
import type { AuthenticatorFactory } from './authenticator';
import { awsIamAuthenticator } from './authenticators/aws-iam';
import { htpasswdAuthenticator } from './authenticators/htpasswd';
import { jwtAuthenticator } from './authenticators/jwt';
import { ldapAuthenticator } from './authenticators/ldap';
import { moduleAuthenticator } from './authenticators/module';
import { introspectionAuthenticator } from './authenticators/oauth2-introspection';
import { staticAuthenticator } from './authenticators/static';
import { webhookAuthenticator } from './authenticators/webhook';

const TYPE_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Named authenticator factories: the config names a type (`{ldap: {...}}`)
 * and the chain looks its factory up here. Registering a name twice, or
 * looking up one that was never registered, is a ConfigError.
 */
export class AuthenticatorRegistry {
  readonly #factories = new Map<string, AuthenticatorFactory>();

  /** Adds a factory under `name` (lower-case, digits and dashes). */
  register(name: string, factory: AuthenticatorFactory): this {
    if (!TYPE_NAME.test(name)) throw new ConfigError(`authenticator type "${name}"`, 'must be lower-case letters, digits and dashes');
    if (this.#factories.has(name)) throw new ConfigError(`authenticator type "${name}"`, 'is already registered');
    this.#factories.set(name, factory);
    return this;
  }

  /** The factory for `name`; `setting` names the config entry in the error. */
  get(name: string, setting: string): AuthenticatorFactory {
    const factory = this.#factories.get(name);
    if (!factory) throw new ConfigError(setting, `unknown authenticator type "${name}" (known: ${this.names().join(', ')})`);
    return factory;
  }

  has(name: string): boolean {
    return this.#factories.has(name);
  }

  /** Registered type names, sorted. */
  names(): string[] {
    return [...this.#factories.keys()].sort();
  }
}

/** A registry holding the built-in authenticators — the one place they are registered. */
export function builtinAuthenticators(): AuthenticatorRegistry {
  return new AuthenticatorRegistry()
    .register('htpasswd', htpasswdAuthenticator)
    .register('static', staticAuthenticator)
    .register('jwt', jwtAuthenticator)
    .register('ldap', ldapAuthenticator)
    .register('oauth2-introspection', introspectionAuthenticator)
    .register('webhook', webhookAuthenticator)
    .register('module', moduleAuthenticator)
    .register('aws-iam', awsIamAuthenticator);
}
