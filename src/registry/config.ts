import { z } from 'zod';
import { listenAddress } from '../config/address';
import { duration } from '../config/duration';
import { anonymousParams, basicParams, ecrParams, gcpParams, staticTokenParams } from './upstream/auth-kinds';

/** Credentials the facade presents upstream; exactly one kind (src/registry/upstream/builtins.ts). Default `{anonymous: {}}`. */
const upstreamAuth = z
  .strictObject({
    anonymous: anonymousParams.optional(),
    /** User name and password (`value`, `file` or `env`): sent as Basic, or traded for a token when the upstream challenges with Bearer. */
    basic: basicParams.optional(),
    /** A fixed bearer token (`value`, `file` or `env`). */
    static: staticTokenParams.optional(),
    /** ECR authorization tokens from the shared credential services; `registry` defaults to the upstream URL's host. */
    ecr: ecrParams.optional(),
    /** Google access tokens (user `oauth2accesstoken`) from the metadata server, or from a workload identity federation file; scopes default cloud-platform. */
    gcp: gcpParams.optional(),
  })
  .refine((a) => Object.values(a).filter((v) => v !== undefined).length === 1, 'give exactly one of anonymous, basic, static, ecr, gcp');

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;
const HOST_PATTERN = /^(\*\.)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

const upstream = z.strictObject({
  /** Unique name, for logs and metrics. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, ".", "_" or "-"'),
  /** Facade path prefix served by this upstream (`hub`, `team-a`); empty = every name no longer prefix claims. */
  prefix: z.string().regex(/^([a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*)?$/, 'a repository path such as team-a or org/team').default(''),
  /** Base URL of the upstream registry. */
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  /** Prepended to names upstream (`library` for Docker Hub official images). Default none. */
  repositoryPrefix: z.string().regex(/^[a-z0-9]+([._/-][a-z0-9]+)*$/).optional(),
  /** Until response headers, and the longest pause in a body. Default 30s. */
  timeout: duration('30s'),
  /** Blob redirects to storage: `follow` (the facade streams them) or `pass` (the client follows). Default follow. */
  redirects: z.enum(['follow', 'pass']).default('follow'),
  /** PEM file of extra CAs trusted for this upstream. */
  caFile: z.string().optional(),
  /** Other hosts (`host[:port]`) whose token realm may receive this upstream's credentials. Default none. */
  realmHosts: z.array(z.string().regex(HOST_PORT, 'a host or host:port')).default([]),
  /**
   * Hosts (`host`, `host:port` or `*.domain`) that followed redirects may go to. Default none: any host
   * whose addresses are public. A listed host may also be on a private address (in-cluster storage).
   */
  redirectHosts: z.array(z.string().regex(HOST_PATTERN, 'a host, host:port or *.domain')).default([]),
  auth: upstreamAuth.default({ anonymous: {} }),
});

const rule = z.strictObject({
  identity: z.string().optional(),
  group: z.string().optional(),
  claims: z.record(z.string(), z.string()).optional(),
  repositories: z.array(z.string().min(1)).min(1),
  /** Default [pull]. */
  actions: z.array(z.enum(['pull', '*'])).default(['pull']),
});

/** The `registry` section of the configuration, with every default. */
export const registrySchema = z.strictObject({
  /** Where the facade listens. Default `:5050`. */
  listen: listenAddress(':5050'),
  /** Public base URL (`https://registry.example.com`), used in the token realm and Link headers. Default: from each request. */
  url: z.url({ protocol: /^https?$/ }).optional(),
  /** TLS (required by Docker for any registry not on loopback). Both or neither. */
  tls: z.strictObject({ cert: z.string(), key: z.string() }).optional(),
  /** Express `trust proxy` (true, a hop count, or addresses) for X-Forwarded-*. Default false. */
  trustProxy: z.union([z.boolean(), z.number(), z.string()]).default(false),
  /** Relay blobs of 256 KiB and more with splice(2) when both connections are plain TCP (Linux, native add-on). Default true. */
  zeroCopy: z.boolean().default(true),
  /** Listener for /metrics, /healthz, /readyz. Default `127.0.0.1:9105`; empty string turns it off. */
  metricsListen: z.union([z.literal(''), listenAddress()]).prefault('127.0.0.1:9105'),
  /** The service name in challenges and the audience of facade tokens. Default `imagegate-registry`. */
  service: z.string().min(1).default('imagegate-registry'),
  token: z
    .strictObject({
      /** Lifetime of facade access tokens. Default 5m. */
      ttl: duration('5m'),
      /** `iss` of facade tokens. Default `imagegate-registry`. */
      issuer: z.string().min(1).default('imagegate-registry'),
      /** PEM EC P-256 private key signing tokens; share it between replicas. Default: generated at start. Not with `keys`. */
      keyFile: z.string().optional(),
      /**
       * Several keys for rotation: every key verifies, the one with `sign: true` signs. Rotate by adding the new
       * key, then moving `sign` to it, then (one token TTL later) removing the old one. Default none (see keyFile).
       */
      keys: z
        .array(
          z.strictObject({
            /** The token header's `kid`. Default: the key's RFC 7638 JWK thumbprint. */
            id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" or "-"').optional(),
            /** PEM EC P-256 key: a private key, or (for a key that only verifies) a public key. */
            file: z.string().min(1),
            /** This key signs new tokens; exactly one key does. Default false. */
            sign: z.boolean().default(false),
          }),
        )
        .min(1)
        .refine((keys) => keys.filter((k) => k.sign).length === 1, 'exactly one key needs sign: true')
        .refine((keys) => { const ids = keys.map((k) => k.id).filter(Boolean); return new Set(ids).size === ids.length; }, 'key ids must be unique')
        .optional(),
      /** Serve the verifying public keys as a JWK Set at `GET /token/keys` for other services. Default false. */
      publishKeys: z.boolean().default(false),
    })
    .prefault({})
    .refine((t) => !(t.keyFile && t.keys), { message: 'give keyFile or keys, not both', path: ['keys'] }),
  auth: z
    .strictObject({
      /** The authenticator chain (see the authenticators below). Default empty: every login is denied. */
      chain: z.array(z.unknown()).default([]),
      /** Authorization rules; deny by default. */
      rules: z.array(rule).default([]),
      /** Repository globs anyone may pull without credentials. Default none. */
      anonymousPull: z.array(z.string().min(1)).default([]),
      /** Worker threads checking bcrypt passwords (htpasswd, static). Default: CPU cores − 1, at least 1. */
      hashWorkers: z.number().int().min(1).max(64).optional(),
    })
    .prefault({}),
  rateLimit: z
    .strictObject({
      /** Default 1m. */
      window: duration('1m'),
      /** Failed logins per client address and user name per window. Default 10. */
      perClientAndUser: z.number().int().positive().default(10),
      /** Failed logins per client address per window. Default 100. */
      perClient: z.number().int().positive().default(100),
      /** Logins checked at once by one replica, from everyone; more are refused (429 with Retry-After) without being queued. Default 32. */
      maxInFlight: z.number().int().positive().default(32),
      /** Failed (401) and refused (429) logins are answered this long after they arrived; 0 = at once. Default 1s. */
      failureDelay: duration('1s'),
      /**
       * Where the failure budgets are counted: `memory` (each replica on its own: the effective budget is
       * replicas × limit) or `redis://host:port[/db]` / `rediss://…` (shared by every replica). Default memory.
       */
      store: z.union([z.literal('memory'), z.string().regex(/^rediss?:\/\/[^\s]+$/, 'memory, or a redis:// or rediss:// URL')]).default('memory'),
      /** File holding the Redis password (a mounted Secret). Default none. */
      storePasswordFile: z.string().min(1).optional(),
      /** How long a Redis call may take before the attempt is counted locally instead. Default 250ms. */
      storeTimeout: duration('250ms'),
    })
    .prefault({}),
  limits: z
    .strictObject({
      /** Largest request header block. Default 16384. */
      maxHeaderBytes: z.number().int().min(1024).default(16384),
      /** Largest `POST /token` body. Default 8192. */
      maxBodyBytes: z.number().int().min(256).default(8192),
      /** Time allowed to finish in-flight requests at shutdown. Default 30s. */
      shutdownGrace: duration('30s'),
      /** Until a request (headers and body) has arrived, on every listener; then 408 and the connection is closed. Default 30s. */
      requestTimeout: duration('30s'),
      /** Until the request headers have arrived (at most requestTimeout). Default 10s. */
      headersTimeout: duration('10s'),
      /** Idle keep-alive connections are closed after this. Default 65s (longer than common load balancers' 60s). */
      keepAliveTimeout: duration('65s'),
      /** Open connections per listener; 0 = no cap. Default 4096. */
      maxConnections: z.number().int().nonnegative().default(4096),
      /** Open connections from one client address (IPv6: one /64) per listener; 0 = no cap. Default 256. */
      maxConnectionsPerClient: z.number().int().nonnegative().default(256),
    })
    .prefault({})
    .refine((l) => l.requestTimeout === 0 || l.headersTimeout <= l.requestTimeout, { message: 'must not be longer than limits.requestTimeout', path: ['headersTimeout'] }),
  cache: z
    .strictObject({
      /** Manifests by digest kept in memory. Default 4096. */
      maxEntries: z.number().int().nonnegative().default(4096),
      /** Bytes of manifests kept in memory. Default 64 MiB. */
      maxBytes: z.number().int().nonnegative().default(64 * 1024 * 1024),
      /** The disk blob cache (pull-through mirror). Default: off. */
      blobs: z
        .strictObject({
          /** Directory of the cache, one per facade process (relative paths: to the config file). */
          dir: z.string().min(1),
          /** Most bytes of blobs kept; least recently used go first. Default 10 GiB. */
          maxBytes: z.number().int().min(1024 * 1024).default(10 * 1024 * 1024 * 1024),
        })
        .optional(),
      tags: z
        .strictObject({
          /** How long a tag's last known manifest may answer while the upstream is down or rate limiting. Default 0s (off). */
          maxStale: duration('0s'),
          /** Tag answers kept for that. Default 4096. */
          maxEntries: z.number().int().positive().default(4096),
        })
        .prefault({}),
    })
    .prefault({}),
  /** The upstream registries, by path prefix. */
  upstreams: z.array(upstream).min(1, 'needs at least one upstream'),
});

export type RegistryConfig = z.output<typeof registrySchema>;
export type UpstreamConfig = RegistryConfig['upstreams'][number];
export type UpstreamAuthConfig = UpstreamConfig['auth'];
