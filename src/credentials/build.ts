import { silentLogger, type Logger } from '../log/logger';
import type { CredentialsConfig } from './config';
import type { ProviderDeps, ProviderFactories } from './credential-provider';
import { builtinProviderFactories } from './providers';
import { kubeletOnly, type PullCredentials } from './pull-credentials';
import { RulePullCredentials, type ActiveRule } from './rule-credentials';
import { createCredentialServices, type CredentialServices, type CredentialServicesOptions } from './services';

export interface BuildOptions extends CredentialServicesOptions {
  logger?: Logger;
  /** Provider factories by name. Default the built-ins. */
  providers?: ProviderFactories;
  /** Use these shared services instead of creating new ones (they are then not closed with the PullCredentials). */
  services?: CredentialServices;
}

/**
 * Builds the PullCredentials for a validated `credentials:` section: one
 * provider instance per rule, all sharing one token cache. No rules → the
 * kubeletOnly default. Throws ConfigError when a provider cannot start (e.g.
 * an unreadable static file).
 */
export function buildPullCredentials(config: CredentialsConfig, options: BuildOptions = {}): PullCredentials {
  if (config.rules.length === 0) return kubeletOnly;
  const logger = options.logger ?? silentLogger;
  const services =
    options.services ??
    createCredentialServices({
      ...options,
      aws: { region: config.aws.region, ...options.aws },
      cache: {
        maxEntries: config.cache.maxEntries, jitter: config.cache.jitter,
        backoffInitialMs: config.cache.backoffInitial, backoffMaxMs: config.cache.backoffMax, ...options.cache,
      },
    });
  const factories = options.providers ?? builtinProviderFactories;
  const rules: ActiveRule[] = config.rules.map((rule, i) => {
    const factory = factories.require(rule.provider, `credentials.rules[${i}].provider`);
    const deps: ProviderDeps = { clients: services.clients, jwts: services.jwts, ecr: services.ecr, google: services.google, awsIam: services.awsIam, logger, setting: `credentials.rules[${i}].with` };
    return { name: rule.name, match: rule.match, precedence: rule.precedence, provider: factory.create(rule.params, deps) };
  });
  return new RulePullCredentials(rules, logger, async () => {
    if (!options.services) services.close();
  });
}
