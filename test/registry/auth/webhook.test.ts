import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/config/errors';
import { silentLogger } from '../../../src/log/logger';
import { webhookAuthenticator } from '../../../src/registry/auth/authenticators/webhook';
import { authenticatorContract, basic, bearer } from './support/contract';
import { startWebhookServer, type WebhookServer } from './support/webhook-server';
import { buildAuthenticator } from './support/build';

const env = { name: 'hook', logger: silentLogger, baseDir: '.', configPath: 'auth.chain[2].webhook' };
const ctx = { clientIp: '10.1.2.3', repository: 'team-a/app' };

describe('webhook (loopback server)', () => {
  let hook: WebhookServer;
  before(async () => {
    hook = await startWebhookServer();
  });
  after(() => hook?.close());

  authenticatorContract('webhook', () => ({
    create: async (logger) => buildAuthenticator(webhookAuthenticator, { url: `${hook.url}/auth`, headers: { authorization: 'Bearer hook-shared-s3cret' } }, { ...env, logger }),
    good: basic('alice', 'alice-hook-pw'),
    goodName: 'alice',
    bad: [basic('alice', 'wrong-hook-pw'), bearer('wrong-token-123')],
    foreign: [],
  }));

  it('allows on 200 with identity, groups and claims, and POSTs the credentials and context as JSON', async () => {
    const auth = await buildAuthenticator(webhookAuthenticator, { url: `${hook.url}/auth`, headers: { authorization: 'Bearer hook-shared-s3cret' } }, env);
    hook.seen.length = 0;
    const d = await auth.authenticate(bearer('hook-token-abcdef'), ctx);
    assert.deepEqual(d, { kind: 'allow', identity: { name: 'alice', groups: ['hooked'], claims: { team: 'a' }, authenticator: 'hook' } });
    assert.deepEqual(hook.seen, [{
      kind: 'bearer', token: 'hook-token-abcdef', clientIp: '10.1.2.3', repository: 'team-a/app',
      path: '/auth', contentType: 'application/json', authorization: 'Bearer hook-shared-s3cret',
    }]);
  });

  const cases: [string, string, object, string][] = [
    ['403', '/auth', { timeout: '5s' }, 'webhook answered 403'],
    ['a timeout', '/slow', { timeout: '300ms' }, 'webhook timed out'],
    ['200 without an identity', '/garbage', {}, 'webhook answered 200 without an identity'],
  ];
  for (const [what, path, extra, reason] of cases) {
    it(`denies on ${what}`, async () => {
      const auth = await buildAuthenticator(webhookAuthenticator, { url: `${hook.url}${path}`, ...extra }, env);
      assert.deepEqual(await auth.authenticate(basic('mallory', 'guess-pw'), ctx), { kind: 'deny', reason });
    });
  }

  it('denies when the webhook is unreachable', async () => {
    const auth = await buildAuthenticator(webhookAuthenticator, { url: 'http://127.0.0.1:9/auth', timeout: '2s' }, env);
    assert.deepEqual(await auth.authenticate(basic('alice', 'alice-hook-pw'), ctx), { kind: 'deny', reason: 'webhook unreachable' });
  });

  const bad: [string, object, RegExp][] = [
    ['plain http off loopback', { url: 'http://auth.example.com/hook' }, /auth\.chain\[2\]\.webhook\.url: must use https unless the host is loopback/],
    ['a non-URL', { url: 'not a url' }, /\.webhook\.url: not a URL/],
    ['a bad timeout', { url: 'https://auth.example.com', timeout: 'later' }, /\.webhook\.timeout: not a duration/],
  ];
  for (const [what, options, message] of bad) {
    it(`refuses ${what} with a ConfigError naming the path`, () => {
      assert.throws(() => buildAuthenticator(webhookAuthenticator, options, env), (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }
});
