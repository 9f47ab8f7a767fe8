import { resolve } from 'node:path';
import { ConfigError } from '../../config/errors';
import type { Logger } from '../../log/logger';
import { Secret } from '../../log/secret';
import type { UpstreamAuthConfig, UpstreamConfig } from '../config';
import { readCertificates, readSettingFile } from '../files';
import type { RegistryMetrics } from '../metrics';
import { type UpstreamCredentials, anonymous, fromPassword, fromToken } from './credentials';
import type { EcrUpstreamOptions } from './ecr';
import type { GcpUpstreamOptions } from './gcp';
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
  ecr?: (url: URL, options: EcrUpstreamOptions, setting: string) => UpstreamCredentials;
  /** Builds Google credentials for an upstream (the shared credential services); absent when not available. */
  gcp?: (options: GcpUpstreamOptions) => UpstreamCredentials;
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

function credentialsFor(auth: UpstreamAuthConfig, url: URL, path: string, env: BuildEnv): UpstreamCredentials {
  if (auth.basic) return fromPassword(auth.basic.username, secretFrom(auth.basic.password, `${path}.basic.password`, env));
  if (auth.static) return fromToken(secretFrom(auth.static.token, `${path}.static.token`, env));
  if (auth.ecr) {
    if (!env.ecr) throw new ConfigError(`${path}.ecr`, 'ECR credentials are not available in this build');
    return env.ecr(url, auth.ecr, `${path}.ecr`);
  }
  if (auth.gcp) {
    if (!env.gcp) throw new ConfigError(`${path}.gcp`, 'Google credentials are not available in this build');
    const file = auth.gcp.credentialsFile && resolve(env.baseDir, auth.gcp.credentialsFile);
    if (file) readSettingFile(file, `${path}.gcp.credentialsFile`);
    return env.gcp({ scopes: auth.gcp.scopes, credentialsFile: file });
  }
  return anonymous;
}

/** Reads a secret from the config value, a file or an environment variable. */
function secretFrom(source: { value?: string; file?: string; env?: string }, path: string, env: BuildEnv): Secret {
  if (source.value !== undefined) return new Secret(source.value);
  if (source.file !== undefined) return new Secret(readSettingFile(resolve(env.baseDir, source.file), `${path}.file`).replace(/\r?\n$/, ''));
  const value = (env.env ?? process.env)[source.env as string];
  if (!value) throw new ConfigError(`${path}.env`, `environment variable ${source.env} is not set`);
  return new Secret(value);
}
