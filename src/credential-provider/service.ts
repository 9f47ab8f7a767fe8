import type { Registry } from 'prom-client';
import { buildPullCredentials } from '../credentials/build';
import type { CredentialsConfig, RuleConfig } from '../credentials/config';
import type { CredentialProvider, ProviderFactories, ProviderFactory } from '../credentials/credential-provider';
import { AwsIamTokens } from '../credentials/aws-iam-tokens';
import { EcrTokens } from '../credentials/ecr-tokens';
import { CredentialError } from '../credentials/errors';
import { builtinProviderFactories, providerFactories } from '../credentials/providers';
import type { PullCredentials, PullTarget } from '../credentials/pull-credentials';
import type { RegistryAuth } from '../credentials/registry-auth';
import { compileMatch } from '../credentials/rules';
import { createCredentialServices, type CredentialServices } from '../credentials/services';
import type { AwsOptions } from '../credentials/aws-clients';
import { WebIdentityTokens } from '../credentials/web-identity-tokens';
import { parseReference } from '../cri/reference';
import { silentLogger, type Logger } from '../log/logger';
import { Secret } from '../log/secret';
import { goDuration, RequestError, type CredentialProviderRequest, type CredentialProviderResponse } from './api';
import { readServiceAccount, type ServiceAccount } from './service-account';
import type { CredentialProviderSettings } from './settings';
import { WebIdentityClients, WebIdentitySessions } from './web-identity-sessions';

/** Providers that mint with an AWS identity, and so take the service account's role. */
const AWS_PROVIDERS = new Set(['ecr', 'sts-jwt']);
/** Most roles whose rule sets are kept at once. */
const MAX_ROLES = 256;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;

export interface CredentialProviderServiceOptions {
  credentials?: CredentialsConfig;
  settings: CredentialProviderSettings;
  /** Overrides (tests: the AWS stand-in's endpoints and keys). */
  aws?: AwsOptions;
  /** Share these token services (the agent shares the image service's); created otherwise. */
  services?: CredentialServices;
  metrics?: Registry;
  logger?: Logger;
  now?: () => number;
}

/** Who a pull mints as. */
type Identity = { kind: 'role'; roleArn: string; account: ServiceAccount; token: Secret } | { kind: 'node' } | { kind: 'none'; why: string };

/**
 * Answers kubelet's CredentialProviderRequests from `credentials.rules`:
 * the first rule matching the image (and the token's service account and
 * passed annotations) names the provider; `ecr` and `sts-jwt` mint as the
 * role the service account's annotation names (AssumeRoleWithWebIdentity
 * with its token), or as the node when `fallback: node`. The plugin uses one
 * per process; the agent one for the whole node. Errors: RequestError for
 * bad input, CredentialError / ConfigError when nothing could be minted.
 */
export class CredentialProviderService {
  private readonly services: CredentialServices;
  private readonly rules: (RuleConfig & { test: (t: PullTarget) => boolean })[];
  private readonly node: PullCredentials;
  private readonly sessions: WebIdentitySessions;
  private readonly roles = new Map<string, { clients: WebIdentityClients; creds: PullCredentials }>();
  private readonly aws: AwsOptions;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly config: CredentialsConfig | undefined;

  constructor(private readonly options: CredentialProviderServiceOptions) {
    this.config = options.credentials;
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.aws = { region: this.config?.aws.region, ...options.aws };
    const cache = this.config?.cache;
    this.services = options.services ?? createCredentialServices({
      aws: this.aws, metrics: options.metrics,
      cache: cache && { maxEntries: cache.maxEntries, jitter: cache.jitter, backoffInitialMs: cache.backoffInitial, backoffMaxMs: cache.backoffMax },
    });
    this.rules = (this.config?.rules ?? []).map((r) => ({ ...r, test: compileMatch(r.match) }));
    this.rules.forEach((r, i) => {
      if (Object.keys(r.match.labels).length > 0) {
        this.logger.warn(`credentials.rules[${i}].match.labels: kubelet's credential provider request carries no pod labels; this rule never matches here`);
      }
    });
    this.node = this.build(builtinProviderFactories, this.services);
    this.sessions = new WebIdentitySessions(this.aws, this.services.cache, options.settings.serviceAccount.sessionDuration / 1000);
  }

  /** The token services this service mints with (shared with the image service when it runs the agent). */
  get tokenServices(): CredentialServices {
    return this.services;
  }

  /** The response for one request. */
  async answer(request: CredentialProviderRequest): Promise<CredentialProviderResponse> {
    const target = this.target(request);
    const identity = this.identity(request, target);
    const rule = this.rules.find((r) => r.test(target));
    const base = { apiVersion: request.apiVersion, kind: 'CredentialProviderResponse' as const };
    const saCache = request.serviceAccountToken ? { serviceAccountTokenCacheType: 'ServiceAccount' as const } : {};
    if (!rule) {
      return { ...base, cacheKeyType: 'Image', cacheDuration: goDuration(this.options.settings.noMatchCacheDuration), ...saCache, auth: {} };
    }
    let creds = this.node;
    const aws = AWS_PROVIDERS.has(rule.provider);
    if (aws && identity.kind === 'none') {
      throw new CredentialError(rule.provider, `rule ${rule.name} mints with an AWS identity, and ${identity.why}; nothing was minted`, 'local');
    }
    if (aws && identity.kind === 'role') {
      const session = await this.sessions.get(identity.roleArn, identity.token, identity.account);
      const role = this.forRole(identity.roleArn);
      role.clients.use(session);
      creds = role.creds;
    }
    const plan = await creds.plan(target, undefined);
    const auth = plan.candidates[0]?.auth;
    const key = rule.match.repository ? `${target.registry}/${rule.match.repository.replace(/\/+$/, '')}` : target.registry;
    const cacheKeyType = rule.match.repository ? 'Image' : 'Registry';
    if (!auth || (!auth.username && !auth.password)) {
      if (auth?.registryToken || auth?.identityToken) {
        throw new CredentialError(rule.provider, `rule ${rule.name} hands its token over as a registry or identity token, and kubelet takes only username/password (set with.as: password)`, 'local');
      }
      return { ...base, cacheKeyType: 'Image', cacheDuration: goDuration(this.options.settings.noMatchCacheDuration), ...saCache, auth: {} };
    }
    const tokenDependent = aws && identity.kind === 'role';
    const duration = this.cacheDuration(auth, tokenDependent);
    this.logger.info('credentials answered', {
      image: target.image, rule: rule.name, provider: rule.provider, identity: identity.kind === 'role' ? identity.roleArn : identity.kind,
      serviceAccount: identity.kind === 'role' ? `${identity.account.namespace}/${identity.account.name}` : undefined, cacheDuration: duration,
    });
    return {
      ...base, cacheKeyType, ...(duration === undefined ? {} : { cacheDuration: duration }), ...saCache,
      auth: { [key]: { username: auth.username ?? '', password: auth.password?.reveal() ?? '' } },
    };
  }

  async close(): Promise<void> {
    await this.node.close();
    for (const r of this.roles.values()) {
      await r.creds.close();
      r.clients.close();
    }
    this.sessions.close();
    if (!this.options.services) this.services.close();
  }

  /** `0s` when the answer rests on the pod's token (KEP-4412's advice); else until expiry minus the skew; kubelet's default when unknown. */
  private cacheDuration(auth: RegistryAuth, tokenDependent: boolean): string | undefined {
    if (tokenDependent) return '0s';
    if (!auth.expiresAt) return undefined;
    return goDuration(auth.expiresAt.getTime() - this.now() - this.options.settings.refreshSkew);
  }

  private target(request: CredentialProviderRequest): PullTarget {
    let ref;
    try {
      ref = parseReference(request.image);
    } catch (err) {
      throw new RequestError(`image: ${(err as Error).message}`);
    }
    if (ref.kind !== 'name') throw new RequestError('image: an image ID names no registry');
    const account = request.serviceAccountToken ? readServiceAccount(request.serviceAccountToken, this.now()) : undefined;
    return {
      image: `${ref.domain}/${ref.path}`, registry: ref.domain, repository: ref.path, labels: {},
      namespace: account?.namespace, serviceAccount: account?.name, serviceAccountAnnotations: request.serviceAccountAnnotations ?? {},
    };
  }

  private identity(request: CredentialProviderRequest, target: PullTarget): Identity {
    const sa = this.options.settings.serviceAccount;
    const token = request.serviceAccountToken;
    if (!token) {
      if (sa.require) throw new RequestError('serviceAccountToken: missing, and credentialProvider.serviceAccount.require is true (set tokenAttributes in kubelet\'s credential provider config)');
      return sa.fallback === 'node' ? { kind: 'node' } : { kind: 'none', why: 'the request carries no service-account token (credentialProvider.serviceAccount.fallback is none)' };
    }
    const account = readServiceAccount(token, this.now());
    const annotations = request.serviceAccountAnnotations ?? {};
    const name = sa.roleAnnotations.find((a) => annotations[a] !== undefined && annotations[a] !== '');
    if (name) {
      const roleArn = annotations[name];
      if (!ROLE_ARN.test(roleArn)) throw new RequestError(`serviceAccountAnnotations.${name}: ${JSON.stringify(roleArn.slice(0, 200))} is not an IAM role ARN`);
      return { kind: 'role', roleArn, account, token: new Secret(token) };
    }
    if (sa.fallback === 'node') return { kind: 'node' };
    return {
      kind: 'none',
      why: `service account ${target.namespace}/${target.serviceAccount} has none of the annotations ${sa.roleAnnotations.join(', ')} (credentialProvider.serviceAccount.fallback is none)`,
    };
  }

  /** The rule set that mints as `roleArn` with web-identity sessions, kept per role. */
  private forRole(roleArn: string) {
    let role = this.roles.get(roleArn);
    if (!role) {
      if (this.roles.size >= MAX_ROLES) {
        const [oldest, old] = this.roles.entries().next().value!;
        this.roles.delete(oldest);
        void old.creds.close();
        old.clients.close();
      }
      const clients = new WebIdentityClients(this.aws, this.services.cache, roleArn);
      const services: CredentialServices = {
        cache: this.services.cache, clients,
        jwts: new WebIdentityTokens(clients, this.services.cache), ecr: new EcrTokens(clients, this.services.cache),
        // Google tokens do not depend on the AWS role; an aws-iam proof is signed as the role.
        google: this.services.google, awsIam: new AwsIamTokens(clients, this.services.cache),
        close: () => clients.close(),
      };
      role = { clients, creds: this.build(asRole(roleArn), services) };
      this.roles.set(roleArn, role);
    }
    return role;
  }

  private build(providers: ProviderFactories, services: CredentialServices): PullCredentials {
    if (!this.config) return { plan: async () => ({ candidates: [{ source: 'kubelet' }] }), close: async () => undefined };
    return buildPullCredentials(this.config, { services, providers, logger: this.logger });
  }
}

/** The built-in providers, with `ecr` and `sts-jwt` minting as `roleArn` whatever their own `roleArn`. */
function asRole(roleArn: string): ProviderFactories {
  const factories = providerFactories();
  for (const name of builtinProviderFactories.names()) {
    const factory = builtinProviderFactories.get(name)!;
    if (!AWS_PROVIDERS.has(name)) {
      factories.register(factory);
      continue;
    }
    const wrapped: ProviderFactory<unknown> = {
      name, params: factory.params,
      create: (params, deps): CredentialProvider => factory.create({ ...(params as object), roleArn }, deps),
    };
    factories.register(wrapped);
  }
  return factories;
}
