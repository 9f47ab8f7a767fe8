import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { loadSettings, type OutboundSettings } from '../../src/outbound/settings';
import { runCli } from './support/proxy-process';

const PINNED = { UPSTREAM_HOST: 'api.example.com' };
function load(argv: string[], env: Record<string, string> = {}): OutboundSettings {
  const loaded = loadSettings(argv, env);
  if (!('settings' in loaded)) throw new Error('expected settings, got help');
  return loaded.settings;
}

describe('outbound: settings (names and defaults of aws-outbound-jwt-proxy)', () => {
  it('defaults match aws-outbound-jwt-proxy', () => {
    const s = load([], PINNED);
    assert.deepEqual(s.listen, { host: undefined, port: 8080 });
    assert.equal(s.upstreamScheme, 'https');
    assert.equal(s.hostHeader, 'x-upstream-host');
    assert.equal(s.upstreamTimeoutMs, 30_000);
    assert.deepEqual(s.tokenAudience, []);
    assert.equal(s.tokenSigningAlgorithm, 'RS256');
    assert.equal(s.tokenDurationSeconds, 3600);
    assert.equal(s.tokenRefreshSkewMs, 300_000);
    assert.equal(s.logLevel, 'info');
    assert.equal(s.logFormat, 'json');
    assert.equal(s.tls, undefined);
    assert.deepEqual(s.metrics, { listen: { host: undefined, port: 9090 }, path: '/metrics' });
    assert.equal(s.authHeader, 'authorization');
    assert.equal(s.authScheme, 'Bearer');
    assert.equal(s.shutdownGraceMs, 10_000);
    assert.equal(s.workers, 1, 'one process, as aws-outbound-jwt-proxy');
  });

  it('WORKERS=auto is one worker per available core', () => {
    assert.equal(load([], { ...PINNED, WORKERS: 'auto' }).workers, availableParallelism());
    assert.equal(load(['--workers', 'AUTO'], PINNED).workers, availableParallelism());
  });

  // [variable, flag, value, what the settings then hold]
  const table: [string, string, string, (s: OutboundSettings) => unknown, unknown][] = [
    ['LISTEN_ADDR', 'listen-addr', '127.0.0.1:18080', (s) => s.listen, { host: '127.0.0.1', port: 18080 }],
    ['UPSTREAM_HOST', 'upstream-host', 'Svc.Example.com:8443', (s) => s.upstreamHost?.authority, 'svc.example.com:8443'],
    ['UPSTREAM_SCHEME', 'upstream-scheme', 'HTTP', (s) => s.upstreamScheme, 'http'],
    ['HOST_HEADER', 'host-header', 'X-Target', (s) => s.hostHeader, 'x-target'],
    ['UPSTREAM_TIMEOUT', 'upstream-timeout', '1m30s', (s) => s.upstreamTimeoutMs, 90_000],
    ['TOKEN_AUDIENCE', 'token-audience', 'https://a.example,https://b.example', (s) => s.tokenAudience, ['https://a.example', 'https://b.example']],
    ['TOKEN_SIGNING_ALGORITHM', 'token-signing-algorithm', 'es384', (s) => s.tokenSigningAlgorithm, 'ES384'],
    ['TOKEN_DURATION', 'token-duration', '15m', (s) => s.tokenDurationSeconds, 900],
    ['TOKEN_REFRESH_SKEW', 'token-refresh-skew', '90s', (s) => s.tokenRefreshSkewMs, 90_000],
    ['LOG_LEVEL', 'log-level', 'DEBUG', (s) => s.logLevel, 'debug'],
    ['LOG_FORMAT', 'log-format', 'Text', (s) => s.logFormat, 'text'],
    ['METRICS_ENABLED', 'metrics-enabled', 'false', (s) => s.metrics, undefined],
    ['METRICS_LISTEN_ADDR', 'metrics-listen-addr', '127.0.0.1:19090', (s) => s.metrics?.listen, { host: '127.0.0.1', port: 19090 }],
    ['METRICS_PATH', 'metrics-path', '/prom', (s) => s.metrics?.path, '/prom'],
    ['UPSTREAM_ALLOW', 'upstream-allow', 'api.example.com,*.example.org', (s) => s.upstreamAllow, ['api.example.com', '*.example.org']],
    ['AUTH_HEADER', 'auth-header', 'X-Serverless-Authorization', (s) => s.authHeader, 'x-serverless-authorization'],
    ['AUTH_SCHEME', 'auth-scheme', 'none', (s) => s.authScheme, ''],
    ['TOKEN_AUDIENCE_MAP', 'token-audience-map', 'api.example.com=urn:a,api.example.com=urn:b', (s) => s.audienceMap.get('api.example.com'), ['urn:a', 'urn:b']],
    ['TOKEN_TAGS', 'token-tag', 'team=payments,env=prod', (s) => s.tokenTags, { team: 'payments', env: 'prod' }],
    ['UPSTREAM_CA_FILE', 'upstream-ca-file', '/etc/ssl/ca.pem', (s) => s.upstreamCaFile, '/etc/ssl/ca.pem'],
    ['SHUTDOWN_GRACE', 'shutdown-grace', '3s', (s) => s.shutdownGraceMs, 3000],
    ['WORKERS', 'workers', '3', (s) => s.workers, 3],
  ];
  for (const [variable, flag, value, pick, expected] of table) {
    it(`${variable} and --${flag}`, () => {
      assert.deepEqual(pick(load([], { ...PINNED, [variable]: value })), expected, 'from the variable');
      assert.deepEqual(pick(load([`--${flag}=${value}`], PINNED)), expected, 'from the flag');
    });
  }

  it('TLS_CERT and TLS_KEY together enable TLS', () => {
    assert.deepEqual(load([], { ...PINNED, TLS_CERT: '/c.pem', TLS_KEY: '/k.pem' }).tls, { certFile: '/c.pem', keyFile: '/k.pem' });
    assert.deepEqual(load(['--tls-cert', '/c.pem', '--tls-key', '/k.pem'], PINNED).tls, { certFile: '/c.pem', keyFile: '/k.pem' });
  });

  it('a flag wins over its variable', () => {
    const s = load(['--upstream-timeout', '5s', '--token-audience', 'urn:flag', '--metrics-enabled'], {
      ...PINNED,
      UPSTREAM_TIMEOUT: '9s',
      TOKEN_AUDIENCE: 'urn:env1,urn:env2',
      METRICS_ENABLED: 'false',
    });
    assert.equal(s.upstreamTimeoutMs, 5000);
    assert.deepEqual(s.tokenAudience, ['urn:flag']);
    assert.ok(s.metrics);
  });

  it('--token-audience repeats; --metrics-enabled takes pflag-style values', () => {
    assert.deepEqual(load(['--token-audience', 'urn:a', '--token-audience', 'urn:b'], PINNED).tokenAudience, ['urn:a', 'urn:b']);
    assert.equal(load(['--metrics-enabled=false'], PINNED).metrics, undefined);
    assert.equal(load(['--no-metrics-enabled'], PINNED).metrics, undefined);
  });

  it('header-routed mode needs an allowlist; pinned mode does not', () => {
    assert.throws(() => load([], {}), /UPSTREAM_ALLOW|upstream-allow/);
    assert.equal(load(['--upstream-allow', '*.example.com'], {}).upstreamHost, undefined);
  });

  it('the metrics address may equal the listen address when metrics are disabled', () => {
    assert.equal(load([], { ...PINNED, METRICS_ENABLED: 'false', METRICS_LISTEN_ADDR: ':8080' }).metrics, undefined);
  });
});

describe('outbound: invalid settings exit 2 with one line naming the setting (real CLI)', function () {
  // [variables, flags, the name the line must start with]
  const invalid: [Record<string, string>, string[], string][] = [
    [{ LISTEN_ADDR: 'nonsense' }, [], 'LISTEN_ADDR'],
    [{}, ['--listen-addr', 'x:99999'], '--listen-addr'],
    [{ UPSTREAM_HOST: 'https://api.example.com' }, [], 'UPSTREAM_HOST'],
    [{}, ['--upstream-host', 'api.example.com/path'], '--upstream-host'],
    [{ UPSTREAM_SCHEME: 'ftp' }, [], 'UPSTREAM_SCHEME'],
    [{ HOST_HEADER: 'bad header' }, [], 'HOST_HEADER'],
    [{ UPSTREAM_TIMEOUT: 'soon' }, [], 'UPSTREAM_TIMEOUT'],
    [{ UPSTREAM_TIMEOUT: '0s' }, [], 'UPSTREAM_TIMEOUT'],
    [{ TOKEN_AUDIENCE: Array.from({ length: 11 }, (_, i) => `urn:${i}`).join(',') }, [], 'TOKEN_AUDIENCE'],
    [{}, ['--token-audience', 'has space'], '--token-audience'],
    [{ TOKEN_SIGNING_ALGORITHM: 'HS256' }, [], 'TOKEN_SIGNING_ALGORITHM'],
    [{ TOKEN_DURATION: '59s' }, [], 'TOKEN_DURATION'],
    [{}, ['--token-duration', '2h'], '--token-duration'],
    [{ TOKEN_REFRESH_SKEW: '0s' }, [], 'TOKEN_REFRESH_SKEW'],
    [{ TOKEN_DURATION: '10m', TOKEN_REFRESH_SKEW: '10m' }, [], 'TOKEN_REFRESH_SKEW'],
    [{ LOG_LEVEL: 'trace' }, [], 'LOG_LEVEL'],
    [{ LOG_FORMAT: 'xml' }, [], 'LOG_FORMAT'],
    [{ TLS_CERT: '/c.pem' }, [], 'TLS_KEY'],
    [{}, ['--tls-key', '/k.pem'], '--tls-cert'],
    [{ METRICS_ENABLED: 'maybe' }, [], 'METRICS_ENABLED'],
    [{}, ['--metrics-enabled=maybe'], '--metrics-enabled'],
    [{ METRICS_LISTEN_ADDR: ':8080' }, [], 'METRICS_LISTEN_ADDR'],
    [{ LISTEN_ADDR: '127.0.0.1:7000' }, ['--metrics-listen-addr', ':7000'], '--metrics-listen-addr'],
    [{ METRICS_PATH: 'metrics' }, [], 'METRICS_PATH'],
    [{ UPSTREAM_HOST: '' }, [], '--upstream-allow'],
    [{ UPSTREAM_HOST: '', UPSTREAM_ALLOW: '*' }, [], 'UPSTREAM_ALLOW'],
    [{ UPSTREAM_ALLOW: 'other.example.com' }, [], 'UPSTREAM_HOST'],
    [{ AUTH_HEADER: 'X Auth' }, [], 'AUTH_HEADER'],
    [{ TOKEN_AUDIENCE_MAP: 'api.example.com' }, [], 'TOKEN_AUDIENCE_MAP'],
    [{ TOKEN_TAGS: 'team' }, [], 'TOKEN_TAGS'],
    [{ UPSTREAM_CA_FILE: '/nonexistent/ca.pem' }, [], 'UPSTREAM_CA_FILE'],
    [{ TLS_CERT: '/nonexistent/c.pem', TLS_KEY: '/nonexistent/k.pem', LISTEN_ADDR: '127.0.0.1:0', METRICS_ENABLED: 'false' }, [], 'TLS_CERT'],
    [{}, ['--no-such-flag'], '--no-such-flag'],
    [{ WORKERS: '0' }, [], 'WORKERS'],
    [{}, ['--workers', 'many'], '--workers'],
    [{ WORKERS: '65' }, [], 'WORKERS'],
    [{ WORKERS: '2', LISTEN_ADDR: '203.0.113.1:8080', METRICS_ENABLED: 'false' }, [], 'LISTEN_ADDR'],
  ];
  let results: { status: number | null; stderr: string }[] = [];

  before(async function () {
    this.timeout(180_000);
    results = [];
    for (let i = 0; i < invalid.length; i += 8) {
      const batch = invalid.slice(i, i + 8).map(([env, args]) => runCli(args, { UPSTREAM_HOST: 'api.example.com', ...env }));
      results.push(...(await Promise.all(batch)));
    }
  });

  invalid.forEach(([env, args, name], i) => {
    it(`${[...Object.entries(env).map(([k, v]) => `${k}=${v.length > 40 ? v.slice(0, 40) + '…' : v}`), ...args].join(' ') || '(nothing)'} → ${name}`, () => {
      const { status, stderr } = results[i];
      const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !/NodeVersionSupportWarning|^\(Use `node|AWS SDK|versions published|require node|To continue|security updates|More information/.test(l));
      assert.equal(status, 2, stderr);
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0], new RegExp(`^imagegate: ${name.replace(/[-]/g, '\\-')}: `));
    });
  });
});

describe('outbound: --help never validates', () => {
  const bad = { UPSTREAM_HOST: 'evil host/\u001b[31mpath', UPSTREAM_TIMEOUT: 'soon', METRICS_LISTEN_ADDR: ':8080' };

  it('loadSettings returns the help text whatever the environment and the other flags hold', () => {
    for (const argv of [['--help'], ['-h'], ['--upstream-timeout', 'never', '--help'], ['--metrics-enabled=maybe', '--help']]) {
      const loaded = loadSettings(argv, bad);
      assert.ok('help' in loaded, argv.join(' '));
      assert.match(loaded.help, /--upstream-host VALUE/);
      assert.ok(!loaded.help.includes('evil host'), 'the environment is not echoed');
    }
  });

  it('the CLI prints help and exits 0 with a bad UPSTREAM_HOST, writing nothing to stderr', async function () {
    this.timeout(60_000);
    const { status, stderr } = await runCli(['--help'], bad);
    const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !/NodeVersionSupportWarning|^\(Use `node|AWS SDK|versions published|require node|To continue|security updates|More information/.test(l));
    assert.equal(status, 0, stderr);
    assert.deepEqual(lines, []);
  });
});
