import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Registry } from 'prom-client';
import { ConfigError } from '../config/errors';
import type { Logger } from '../log/logger';
import { AccessGate } from './access/gate';
import { Authorizer } from './access/authorizer';
import { LoginLimiter } from './access/login-limiter';
import { TokenIssuer } from './access/token-issuer';
import type { AuthChain } from './auth/chain';
import { createCaches } from './cache';
import { createAuthChain } from './auth/chain';
import type { RegistryConfig } from './config';
import { hashPool, defaultHashWorkers } from './auth/hash-pool';
import { readSigningKey, readTls, readTokenKey } from './files';
import { createLoginLimitStore } from './access/limit-store/create';
import { createApp } from './http/app';
import { CONNECTIONS_CHECKING_INTERVAL_MS, type ListenerLimits, applyListenerLimits, listenerMetrics } from './http/listener-limits';
import { zeroCopyProblem } from './http/zero-copy';
import { RegistryMetrics } from './metrics';
import { type BuildEnv, buildRouter } from './upstream/build';
import { ecrUpstreamCredentials } from './upstream/ecr';
import { gcpUpstreamCredentials } from './upstream/gcp';
import { type CredentialServices, createCredentialServices } from '../credentials';

export interface RegistryDeps {
  logger: Logger;
  /** The prom-client registry the facade's metrics go to. */
  metricsRegistry: Registry;
  /** Folder relative paths in the config are resolved against (the config file's). */
  baseDir: string;
  /** A chain to use instead of building one from `auth.chain` (tests). */
  chain?: AuthChain;
  /** The process's shared credential services (one token cache), for upstreams with `auth.ecr` or `auth.gcp`; created on demand when absent. */
  credentials?: CredentialServices;
}

export interface RunningRegistry {
  address: AddressInfo;
  /** `http(s)://host:port` of the listener. */
  url: string;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then cuts the rest and releases everything. */
  close(graceMs?: number): Promise<void>;
}

/** Builds the facade from its configuration and starts listening. Configuration problems are ConfigErrors. */
export async function startRegistry(config: RegistryConfig, deps: RegistryDeps): Promise<RunningRegistry> {
  const { logger } = deps;
  const metrics = new RegistryMetrics(deps.metricsRegistry);
  const needsEcr = config.upstreams.some((u) => u.auth.ecr || u.auth.gcp);
  const ownCredentials = needsEcr && !deps.credentials ? createCredentialServices({ metrics: deps.metricsRegistry }) : undefined;
  const credentials = deps.credentials ?? ownCredentials;
  const ecr: BuildEnv['ecr'] = credentials ? (url, options, setting) => ecrUpstreamCredentials(credentials, url, options, setting, logger) : undefined;
  const gcp: BuildEnv['gcp'] = credentials ? (options) => gcpUpstreamCredentials(credentials, options, logger) : undefined;
  const caches = await createCaches(config.cache, { baseDir: deps.baseDir, logger, registry: deps.metricsRegistry });
  const router = buildRouter(config.upstreams, { baseDir: deps.baseDir, metrics, logger, cache: config.cache, ecr, gcp, decorate: caches.decorate });
  const chain = deps.chain ?? (await createAuthChain(config.auth.chain, { logger, baseDir: deps.baseDir, configPath: 'registry.auth.chain', metrics: { metricsRegistry: deps.metricsRegistry } }));
  const signingKey = config.token.keyFile ? readSigningKey(resolve(deps.baseDir, config.token.keyFile), 'registry.token.keyFile') : undefined;
  const keys = config.token.keys?.map((k, i) => ({ id: k.id, sign: k.sign, key: readTokenKey(resolve(deps.baseDir, k.file), `registry.token.keys[${i}].file`) }));
  if (keys?.find((k) => k.sign && k.key.type !== 'private')) throw new ConfigError('registry.token.keys', 'the key with sign: true must be a private key');
  const issuer = new TokenIssuer({ issuer: config.token.issuer, service: config.service, ttlMs: config.token.ttl, key: signingKey, keys });
  const limits = { windowMs: config.rateLimit.window, perClientAndUser: config.rateLimit.perClientAndUser, perClient: config.rateLimit.perClient, maxInFlight: config.rateLimit.maxInFlight };
  const limiter = new LoginLimiter(limits, createLoginLimitStore(config.rateLimit, limits, { logger, registry: deps.metricsRegistry, baseDir: deps.baseDir, service: config.service }));
  hashPool.resize(config.auth.hashWorkers ?? defaultHashWorkers());
  const gate = new AccessGate({ chain, authorizer: new Authorizer(config.auth.rules, config.auth.anonymousPull), issuer, limiter, failureDelayMs: config.rateLimit.failureDelay, logger, metrics });
  // The native relay only when its add-on loads and the Node.js internals it needs behave; else one line, and blobs stream.
  const relayProblem = config.zeroCopy ? await zeroCopyProblem() : undefined;
  if (relayProblem) logger.warn('zero-copy blob relay unavailable; blobs are copied through user space', { reason: relayProblem });
  let ready = true;
  const app = createApp({
    gate, router, logger, metrics, service: config.service, url: config.url, trustProxy: config.trustProxy,
    maxBodyBytes: config.limits.maxBodyBytes, ready: () => ready, zeroCopy: config.zeroCopy && relayProblem === undefined,
    publishKeys: config.token.publishKeys ? issuer : undefined,
  });
  const serverOptions = { maxHeaderSize: config.limits.maxHeaderBytes, connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS };
  const server = config.tls ? https.createServer({ ...serverOptions, ...readTls(config.tls, deps.baseDir) }, app) : http.createServer(serverOptions, app);
  applyListenerLimits(server, listenerLimits(config), 'traffic', listenerMetrics(deps.metricsRegistry));
  await new Promise<void>((done, fail) => {
    server.once('error', (err: NodeJS.ErrnoException) => fail(new ConfigError('registry.listen', `cannot listen: ${err.code ?? err.message}`)));
    server.listen(config.listen.port, config.listen.host, () => done());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    address,
    url: `${config.tls ? 'https' : 'http'}://${host}:${address.port}`,
    close(graceMs = config.limits.shutdownGrace) {
      closing ??= (async () => {
        ready = false;
        const closed = new Promise<void>((done) => server.close(() => done()));
        server.closeIdleConnections();
        // Keep-alive connections that finish their last request while draining are closed as soon as they are idle.
        const idle = setInterval(() => server.closeIdleConnections(), 250);
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        await closed;
        clearTimeout(timer);
        clearInterval(idle);
        await Promise.allSettled([router.close(), caches.close(), deps.chain ? Promise.resolve() : chain.close(), limiter.close()]);
        ownCredentials?.close();
      })();
      return closing;
    },
  };
}

/** The limits of every listener of the facade (traffic and metrics), from `registry.limits`. */
export function listenerLimits(config: RegistryConfig): ListenerLimits {
  const l = config.limits;
  return {
    requestTimeoutMs: l.requestTimeout,
    headersTimeoutMs: l.headersTimeout,
    keepAliveTimeoutMs: l.keepAliveTimeout,
    maxConnections: l.maxConnections,
    maxConnectionsPerClient: l.maxConnectionsPerClient,
  };
}
