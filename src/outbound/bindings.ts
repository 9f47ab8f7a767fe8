import { commonFlags } from '../config/common-flags';
import type { Binding } from '../config/load';

/**
 * The flags and environment variables of `imagegate outbound-proxy`. The first
 * block has exactly the names of aws-outbound-jwt-proxy (environment variable =
 * upper-case flag with `-` → `_`, no prefix), so switching needs no change to
 * a deployment; the second block is imagegate's additions.
 */
export const bindings: Binding[] = [
  { flag: 'listen-addr', env: 'LISTEN_ADDR', path: 'listenAddr', help: 'host:port to listen on' },
  { flag: 'upstream-host', env: 'UPSTREAM_HOST', path: 'upstreamHost', help: 'pinned upstream host[:port]; when set the routing header is ignored' },
  { flag: 'upstream-scheme', env: 'UPSTREAM_SCHEME', path: 'upstreamScheme', help: 'http or https' },
  { flag: 'host-header', env: 'HOST_HEADER', path: 'hostHeader', help: 'routing header when no upstream is pinned; "Host" = the Host header' },
  { flag: 'upstream-timeout', env: 'UPSTREAM_TIMEOUT', path: 'upstreamTimeout', help: 'time to wait for upstream response headers' },
  { flag: 'token-audience', env: 'TOKEN_AUDIENCE', path: 'tokenAudience', type: 'list', help: 'JWT audience; repeat or comma-separate (unset: scheme://host of each request)' },
  { flag: 'token-signing-algorithm', env: 'TOKEN_SIGNING_ALGORITHM', path: 'tokenSigningAlgorithm', help: 'RS256 or ES384' },
  { flag: 'token-duration', env: 'TOKEN_DURATION', path: 'tokenDuration', help: 'requested JWT lifetime, 60s to 1h' },
  { flag: 'token-refresh-skew', env: 'TOKEN_REFRESH_SKEW', path: 'tokenRefreshSkew', help: 'refresh this long before expiry, > 0 and < duration' },
  commonFlags.logLevel('logLevel', 'LOG_LEVEL'),
  commonFlags.logFormat('logFormat', 'LOG_FORMAT'),
  { flag: 'tls-cert', env: 'TLS_CERT', path: 'tlsCert', help: 'PEM certificate; serve HTTPS (with --tls-key)' },
  { flag: 'tls-key', env: 'TLS_KEY', path: 'tlsKey', help: 'PEM private key (with --tls-cert)' },
  { flag: 'metrics-enabled', env: 'METRICS_ENABLED', path: 'metricsEnabled', type: 'boolean', help: 'serve metrics and probes' },
  commonFlags.metricsListen('metricsListenAddr', 'METRICS_LISTEN_ADDR', { flag: 'metrics-listen-addr', note: 'must differ from --listen-addr' }),
  { flag: 'metrics-path', env: 'METRICS_PATH', path: 'metricsPath', help: 'Prometheus path, starts with /' },

  { flag: 'upstream-allow', env: 'UPSTREAM_ALLOW', path: 'upstreamAllow', type: 'list', help: 'host globs the proxy may forward to; required when header-routed' },
  { flag: 'auth-header', env: 'AUTH_HEADER', path: 'authHeader', help: 'header that carries the token' },
  { flag: 'auth-scheme', env: 'AUTH_SCHEME', path: 'authScheme', help: 'scheme before the token; "none" for the bare token' },
  { flag: 'token-audience-map', env: 'TOKEN_AUDIENCE_MAP', path: 'tokenAudienceMap', type: 'list', help: 'host=audience pairs; repeat a host for several audiences' },
  { flag: 'token-tag', env: 'TOKEN_TAGS', path: 'tokenTags', type: 'list', help: 'key=value STS request tags (claims under request_tags)' },
  { flag: 'upstream-ca-file', env: 'UPSTREAM_CA_FILE', path: 'upstreamCaFile', help: 'PEM bundle trusted for upstream TLS, besides the system roots' },
  { flag: 'shutdown-grace', env: 'SHUTDOWN_GRACE', path: 'shutdownGrace', help: 'time in-flight requests get to finish on SIGTERM' },
  { flag: 'workers', env: 'WORKERS', path: 'workers', help: 'proxy processes sharing the listen port, 1-64 or "auto" = one per available core' },
];

/** Built-in defaults, written as a user would write them (the one place: `--help` shows them from here). */
export const defaults = {
  listenAddr: ':8080',
  upstreamHost: '',
  upstreamScheme: 'https',
  hostHeader: 'X-Upstream-Host',
  upstreamTimeout: '30s',
  tokenAudience: [] as string[],
  tokenSigningAlgorithm: 'RS256',
  tokenDuration: '1h',
  tokenRefreshSkew: '5m',
  logLevel: 'info',
  logFormat: 'json',
  tlsCert: '',
  tlsKey: '',
  metricsEnabled: true,
  metricsListenAddr: ':9090',
  metricsPath: '/metrics',
  upstreamAllow: [] as string[],
  authHeader: 'Authorization',
  authScheme: 'Bearer',
  tokenAudienceMap: [] as string[],
  tokenTags: [] as string[],
  upstreamCaFile: '',
  shutdownGrace: '10s',
  workers: '1',
};

/** How a setting is named in a message: the flag, or the variable when only that was given. */
export function settingName(path: string, argv: string[], env: NodeJS.ProcessEnv): string {
  const b = bindings.find((x) => x.path === path);
  if (!b) return path;
  const flagGiven = argv.some((a) => a === `--${b.flag}` || a.startsWith(`--${b.flag}=`) || a === `--no-${b.flag}`);
  if (!flagGiven && b.env && env[b.env]) return b.env;
  return `--${b.flag}`;
}
