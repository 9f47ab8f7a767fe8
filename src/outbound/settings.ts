import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { listenAddress, type ListenAddress } from '../config/address';
import { duration } from '../config/duration';
import { ConfigError } from '../config/errors';
import { loadConfig, type FlagTable } from '../config/load';
import type { LogFormat, LogLevel } from '../log/logger';
import { bindings, defaults, settingName } from './bindings';
import { globProblem, HostAllowlist, parseUpstreamHost, type UpstreamHost } from './host';

/** The validated settings of `imagegate outbound-proxy`. Defaults are in ./bindings. */
export interface OutboundSettings {
  listen: ListenAddress;
  /** Set = pinned mode: every request goes here and the routing header is ignored. */
  upstreamHost?: UpstreamHost;
  upstreamScheme: 'http' | 'https';
  /** Routing header in header-routed mode; `host` means the Host header. Lower case. */
  hostHeader: string;
  upstreamTimeoutMs: number;
  /** Fixed audiences for every request; empty = derived per request. */
  tokenAudience: string[];
  tokenSigningAlgorithm: 'RS256' | 'ES384';
  tokenDurationSeconds: number;
  tokenRefreshSkewMs: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
  tls?: { certFile: string; keyFile: string };
  /** Undefined when metrics are disabled. */
  metrics?: { listen: ListenAddress; path: string };
  upstreamAllow: string[];
  /** Lower-case name of the header that carries the token. */
  authHeader: string;
  /** Text before the token, e.g. `Bearer`; empty for the bare token. */
  authScheme: string;
  /** Explicit audiences per upstream host (lower case, port stripped). */
  audienceMap: Map<string, string[]>;
  tokenTags: Record<string, string>;
  upstreamCaFile?: string;
  shutdownGraceMs: number;
  /**
   * Proxy processes (node:cluster workers) sharing the listen port; 1 = the
   * proxy runs in this process (default). `auto` = os.availableParallelism().
   */
  workers: number;
}

/** Upper bound of WORKERS (also caps `auto`). */
const MAX_WORKERS = 64;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const oneOf = (values: string[], fold: (s: string) => string) =>
  z.string().transform((v, ctx) => {
    const folded = fold(v.trim());
    if (!values.includes(folded)) ctx.addIssue({ code: 'custom', message: `must be ${values.join(' or ')}, not "${v}"` });
    return folded;
  });
const host = () =>
  z.string().transform((v, ctx) => {
    if (v === '') return undefined;
    const parsed = parseUpstreamHost(v);
    if (!parsed || v.includes('://')) {
      ctx.addIssue({ code: 'custom', message: `must be host[:port] without a scheme, not "${v}" (set the scheme with --upstream-scheme)` });
    }
    return parsed;
  });
const pairs = (what: string) =>
  z.array(z.string()).transform((items, ctx) =>
    items.map((item) => {
      const i = item.indexOf('=');
      if (i <= 0 || i === item.length - 1) ctx.addIssue({ code: 'custom', message: `must be ${what}, not "${item}"` });
      return [item.slice(0, i).trim(), item.slice(i + 1).trim()] as const;
    }),
  );
const audience = z.string().regex(/^\S{1,1000}$/, 'an audience must be 1–1000 characters without whitespace');

const schema = z.object({
  listenAddr: listenAddress(),
  upstreamHost: host(),
  upstreamScheme: oneOf(['http', 'https'], (s) => s.toLowerCase()),
  hostHeader: z.string().regex(HEADER_NAME, 'must be a header name'),
  upstreamTimeout: duration().refine((ms) => ms > 0, 'must be positive'),
  tokenAudience: z.array(audience).max(10, 'at most 10 audiences (STS limit)'),
  tokenSigningAlgorithm: oneOf(['RS256', 'ES384'], (s) => s.toUpperCase()),
  tokenDuration: duration().refine((ms) => ms >= 60_000 && ms <= 3_600_000, 'must be between 60s and 3600s'),
  tokenRefreshSkew: duration().refine((ms) => ms > 0, 'must be positive'),
  logLevel: oneOf(['debug', 'info', 'warn', 'error'], (s) => s.toLowerCase()),
  logFormat: oneOf(['json', 'text'], (s) => s.toLowerCase()),
  tlsCert: z.string(),
  tlsKey: z.string(),
  metricsEnabled: z.boolean(),
  metricsListenAddr: listenAddress(),
  metricsPath: z.string(),
  upstreamAllow: z.array(z.string().superRefine((p, ctx) => {
    const problem = globProblem(p);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })),
  authHeader: z.string().regex(HEADER_NAME, 'must be a header name'),
  authScheme: z.string(),
  tokenAudienceMap: pairs('host=audience'),
  tokenTags: pairs('key=value'),
  upstreamCaFile: z.string(),
  shutdownGrace: duration(),
  workers: z.string().transform((v, ctx) => {
    const text = v.trim().toLowerCase();
    if (text === 'auto') return Math.min(MAX_WORKERS, availableParallelism());
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!(n >= 1 && n <= MAX_WORKERS)) ctx.addIssue({ code: 'custom', message: `must be 1–${MAX_WORKERS} or "auto", not "${v}"` });
    return n;
  }),
});

type Raw = z.output<typeof schema>;

/** What `imagegate outbound-proxy` reads: its flags and variables bound to the schema, the defaults from ./bindings. */
export const outboundFlags: FlagTable<typeof schema> = { schema, bindings, defaults, configEnv: '' };

/** Either the validated settings or, for `--help`, the help text to print. */
export type SettingsOrHelp = { settings: OutboundSettings } | { help: string };

/** Loads and validates the settings; a problem throws a ConfigError naming the flag or variable. */
export function loadSettings(argv: string[], env: NodeJS.ProcessEnv = process.env): SettingsOrHelp {
  if (argv.some((a) => a === '--help' || a === '-h')) return { help: helpOnly() };
  const normalized = normalizeBooleans(argv);
  let loaded;
  try {
    loaded = loadConfig({ command: 'outbound-proxy', schema, bindings, argv: normalized, env, defaults, configEnv: '' });
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(settingName(err.setting, normalized, env), err.problem);
    throw err;
  }
  if (loaded.helpRequested) return { help: loaded.help };
  const fail = (path: string, problem: string, like?: string): never => {
    let name = settingName(path, normalized, env);
    if (like && !settingName(like, normalized, env).startsWith('--')) name = bindings.find((b) => b.path === path)?.env ?? name;
    throw new ConfigError(name, problem);
  };
  return { settings: crossCheck(loaded.config, fail) };
}

/** The help text, from the defaults alone: `--help` never reads or validates the environment or the other flags. */
function helpOnly(): string {
  return loadConfig({ command: 'outbound-proxy', schema, bindings, argv: ['--help'], env: {}, defaults, configEnv: '' }).help;
}

function crossCheck(raw: Raw, fail: (path: string, problem: string, like?: string) => never): OutboundSettings {
  if (raw.tokenRefreshSkew >= raw.tokenDuration) fail('tokenRefreshSkew', 'must be less than the token duration');
  if ((raw.tlsCert === '') !== (raw.tlsKey === '')) {
    const [missing, given] = raw.tlsCert ? ['tlsKey', 'tlsCert'] : ['tlsCert', 'tlsKey'];
    fail(missing, 'TLS_CERT and TLS_KEY must be set together', given);
  }
  if (raw.metricsEnabled) {
    const a = raw.listenAddr;
    const m = raw.metricsListenAddr;
    if (a.port !== 0 && a.port === m.port && (a.host === undefined || m.host === undefined || a.host === m.host)) {
      fail('metricsListenAddr', 'must differ from the listen address');
    }
    if (!raw.metricsPath.startsWith('/')) fail('metricsPath', `must start with "/", not "${raw.metricsPath}"`);
  }
  if (!raw.upstreamHost && raw.upstreamAllow.length === 0) {
    fail('upstreamAllow', 'required when no upstream host is pinned (header-routed mode), so the proxy is never an open relay');
  }
  if (raw.upstreamHost && raw.upstreamAllow.length > 0) {
    const port = raw.upstreamScheme === 'http' ? 80 : 443;
    if (!new HostAllowlist(raw.upstreamAllow).allows(raw.upstreamHost, port)) fail('upstreamHost', 'not in the upstream allowlist');
  }
  const audienceMap = new Map<string, string[]>();
  for (const [key, aud] of raw.tokenAudienceMap) {
    const target = parseUpstreamHost(key);
    if (!target) fail('tokenAudienceMap', `not a host: "${key}"`);
    if (!audience.safeParse(aud).success) fail('tokenAudienceMap', `not an audience: "${aud}"`);
    audienceMap.set(target!.host, [...(audienceMap.get(target!.host) ?? []), aud]);
  }
  const tokenTags: Record<string, string> = {};
  for (const [key, value] of raw.tokenTags) tokenTags[key] = value;
  if (Object.keys(tokenTags).length > 50) fail('tokenTags', 'at most 50 tags');
  return {
    listen: raw.listenAddr,
    upstreamHost: raw.upstreamHost,
    upstreamScheme: raw.upstreamScheme as 'http' | 'https',
    hostHeader: raw.hostHeader.toLowerCase(),
    upstreamTimeoutMs: raw.upstreamTimeout,
    tokenAudience: [...new Set(raw.tokenAudience)],
    tokenSigningAlgorithm: raw.tokenSigningAlgorithm as 'RS256' | 'ES384',
    tokenDurationSeconds: Math.round(raw.tokenDuration / 1000),
    tokenRefreshSkewMs: raw.tokenRefreshSkew,
    logLevel: raw.logLevel as LogLevel,
    logFormat: raw.logFormat as LogFormat,
    tls: raw.tlsCert ? { certFile: raw.tlsCert, keyFile: raw.tlsKey } : undefined,
    metrics: raw.metricsEnabled ? { listen: raw.metricsListenAddr, path: raw.metricsPath } : undefined,
    upstreamAllow: raw.upstreamAllow,
    authHeader: raw.authHeader.toLowerCase(),
    authScheme: raw.authScheme.toLowerCase() === 'none' ? '' : raw.authScheme,
    audienceMap,
    tokenTags,
    upstreamCaFile: raw.upstreamCaFile || undefined,
    shutdownGraceMs: raw.shutdownGrace,
    workers: raw.workers,
  };
}

/** pflag accepts `--metrics-enabled=false`; node's parseArgs wants `--no-metrics-enabled`. */
function normalizeBooleans(argv: string[]): string[] {
  const names = bindings.filter((b) => b.type === 'boolean').map((b) => b.flag);
  return argv.map((arg) => {
    const m = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (!m || !names.includes(m[1])) return arg;
    if (/^(true|1|yes)$/i.test(m[2])) return `--${m[1]}`;
    if (/^(false|0|no)$/i.test(m[2])) return `--no-${m[1]}`;
    throw new ConfigError(`--${m[1]}`, `must be true or false, not "${m[2]}"`);
  });
}
