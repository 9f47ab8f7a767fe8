import { parseSetting } from '../../../../src/config/setting';
import type { Authenticator, AuthenticatorEnv, AuthenticatorFactory } from '../../../../src/registry/auth/authenticator';

/** Builds one authenticator as the chain does: options checked against the factory's schema (ConfigErrors under `env.configPath`), then `create`. */
export function buildAuthenticator<P>(factory: AuthenticatorFactory<P>, options: unknown, env: AuthenticatorEnv): Authenticator | Promise<Authenticator> {
  return factory.create(parseSetting(factory.params, options, env.configPath), env);
}
