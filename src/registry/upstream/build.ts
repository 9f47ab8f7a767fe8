import { resolve } from 'node:path';
import { ConfigError } from '../../config/errors';
import type { Logger } from '../../log/logger';
import type { UpstreamAuthConfig, UpstreamConfig } from '../config';
import { readCertificates } from '../files';
import type { RegistryMetrics } from '../metrics';
import type { UpstreamAuthDeps } from './auth-kinds';
import { builtinUpstreamAuthFactories } from './builtins';
import type { UpstreamCredentials } from './credentials';
import { createAgents } from './http-client';
import { HttpUpstream } from './http-upstream';
import { RedirectPolicy } from './redirect-policy';
import { ManifestCache, type ManifestCacheOptions } from './manifest-cache';
import { type Route, UpstreamRouter } from './router';
import type { Upstream } from './upstream';
import { UpstreamAuth } from './upstream-auth';

export interface BuildEnv {
  /** Folder relative file paths are resolved against. */
  baseDir: string;
  metrics?: RegistryMetrics;
  /** Upstream failures are logged here (warn). */
  logger?: Logger;
  cache: ManifestCacheOptions;
  /** Builds ECR credentials for an upstream (the shared credential services); absent when not available. */
  ecr?: UpstreamAuthDeps['ecr'];
  /** Builds Google credentials for an upstream (the shared credential services); absent when not available. */
  gcp?: UpstreamAuthDeps['gcp'];
  env?: NodeJS.ProcessEnv;
  /** Wraps each upstream (behind its manifest cache) in further decorators: the pull-through caches. */
  decorate?: (upstream: Upstream) => Upstream;
}

/**
 * Builds the router from `registry.upstreams`: each entry an HttpUpstream
 * with its own connection pool, timeout and credentials, behind a manifest
 * cache. Problems are ConfigErrors naming `registry.upstreams[i].…`.
 */
export function buildRouter(upstreams: UpstreamConfig[], env: BuildEnv): UpstreamRouter {
  const names = new Set<string>();
  const prefixes = new Set<string>();
  const routes: Route[] = upstreams.map((u, i) => {
    const path = `registry.upstreams[${i}]`;
    if (names.has(u.name)) throw new ConfigError(`${path}.name`, `duplicate upstream name "${u.name}"`);
    if (prefixes.has(u.prefix)) throw new ConfigError(`${path}.prefix`, `prefix "${u.prefix}" is already served by another upstream`);
    names.add(u.name);
    prefixes.add(u.prefix);
    const url = new URL(u.url);
    const ca = u.caFile ? readCertificates(resolve(env.baseDir, u.caFile), `${path}.caFile`) : undefined;
    const agents = createAgents(256, ca);
    const credentials = credentialsFor(u.auth, url, `${path}.auth`, env);
    const auth = new UpstreamAuth({ upstream: u.name, registryUrl: url, credentials, agents, timeoutMs: u.timeout, realmHosts: u.realmHosts });
    const redirectPolicy = new RedirectPolicy({ upstream: u.name, origin: url, allowedHosts: u.redirectHosts, agents, ca });
    const http = new HttpUpstream({ name: u.name, url, timeoutMs: u.timeout, redirects: u.redirects, auth, agents, redirectPolicy, metrics: env.metrics, logger: env.logger });
    const cached = new ManifestCache(http, { ...env.cache, metrics: env.metrics });
    return { prefix: u.prefix, repositoryPrefix: u.repositoryPrefix, upstream: env.decorate ? env.decorate(cached) : cached };
  });
  return new UpstreamRouter(routes);
}

/** The upstream's credentials, built by the one kind its `auth:` names. */
function credentialsFor(auth: UpstreamAuthConfig, url: URL, path: string, env: BuildEnv): UpstreamCredentials {
  const [kind, params] = Object.entries(auth).find(([, value]) => value !== undefined) ?? ['anonymous', {}];
  const setting = `${path}.${kind}`;
  return builtinUpstreamAuthFactories.create(kind, params, { url, setting, baseDir: env.baseDir, env: env.env, ecr: env.ecr, gcp: env.gcp }, setting);
}
