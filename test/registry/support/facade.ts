import type { Registry } from 'prom-client';
import { createRegistry } from '../../../src/metrics/server';
import { createLogger } from '../../../src/log/logger';
import { type RegistryConfig, registrySchema } from '../../../src/registry/config';
import { type RunningRegistry, startRegistry } from '../../../src/registry/server';
import { requireTcp } from '../../../testing/services';
import { upstreams } from '../../../testing/registry/upstreams';

/** Test users of the facade (static authenticator): alice may pull everything, bob only `basic/test/busybox`. */
export const users = {
  alice: { username: 'alice', password: 'alice-pass-123' },
  bob: { username: 'bob', password: 'bob-pass-456' },
  carol: { username: 'carol', password: 'carol-pass-789' },
} as const;

/** The facade configuration the tests use, over the CI upstreams; `overrides` replaces top-level keys. */
export function testConfig(overrides: Record<string, unknown> = {}): RegistryConfig {
  const creds = { basic: { username: upstreams.user, password: { value: upstreams.password } } };
  return registrySchema.parse({
    listen: '127.0.0.1:0',
    metricsListen: '',
    upstreams: [
      { name: 'basic', prefix: 'basic', url: `http://${upstreams.basic}`, auth: creds },
      { name: 'token', prefix: 'token', url: `http://${upstreams.token}`, auth: creds, realmHosts: [upstreams.issuer] },
      { name: 'redirect-follow', prefix: 'follow', url: `http://${upstreams.redirecting}`, auth: creds, redirects: 'follow', redirectHosts: [upstreams.storage] },
      { name: 'redirect-pass', prefix: 'pass', url: `http://${upstreams.redirecting}`, auth: creds, redirects: 'pass' },
      { name: 'relative', prefix: 'relative', url: `http://${upstreams.relative}`, auth: creds },
      { name: 'lib', prefix: 'lib', url: `http://${upstreams.basic}`, repositoryPrefix: 'test', auth: creds },
      { name: 'down', prefix: 'down', url: 'http://127.0.0.1:5019', auth: { anonymous: {} }, timeout: '2s' },
    ],
    auth: {
      chain: [{ static: { users: Object.values(users).map((u) => ({ username: u.username, password: u.password, groups: u.username === 'carol' ? ['readers'] : [] })) } }],
      rules: [
        { identity: 'alice', repositories: ['**'] },
        { identity: 'bob', repositories: ['basic/test/busybox'] },
        { group: 'readers', repositories: ['token/**'] },
      ],
      anonymousPull: ['basic/test/large'],
    },
    // Failed logins answered at once, so that tests making many in a row stay quick.
    rateLimit: { failureDelay: 0 },
    ...overrides,
  });
}

/** Starts a facade on an ephemeral loopback port, after checking the upstreams are up; `metrics` is its Prometheus registry. */
export async function startTestFacade(config: RegistryConfig = testConfig(), sink?: string[]): Promise<RunningRegistry & { metrics: Registry }> {
  for (const [what, addr] of [['basic upstream', upstreams.basic], ['token upstream', upstreams.token], ['token issuer', upstreams.issuer], ['redirecting upstream', upstreams.redirecting]]) {
    await requireTcp(what, addr);
  }
  const logger = createLogger({ level: sink ? 'debug' : 'error', sink: sink ?? [] });
  const metrics = createRegistry();
  return Object.assign(await startRegistry(config, { logger, metricsRegistry: metrics, baseDir: process.cwd() }), { metrics });
}

/** `Authorization: Basic …` for a user. */
export function basic(user: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
}

/** Gets a facade token for `scope` with the user's credentials. */
export async function tokenFor(url: string, user: { username: string; password: string } | undefined, scope: string): Promise<string> {
  const res = await fetch(`${url}/token?service=imagegate-registry&scope=${encodeURIComponent(scope)}`, { headers: user ? { authorization: basic(user) } : {} });
  if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}
