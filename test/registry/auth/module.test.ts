import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ConfigError } from '../../../src/config/errors';
import { silentLogger } from '../../../src/log/logger';
import { moduleAuthenticator } from '../../../src/registry/auth/authenticators/module';
import { authenticatorContract, basic, bearer } from './support/contract';
import { buildAuthenticator } from './support/build';

const env = { name: 'keys', logger: silentLogger, baseDir: __dirname, configPath: 'auth.chain[4].module' };
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const apiKeys = {
  path: 'fixtures/api-keys.mjs',
  options: { keys: [{ name: 'ci-bot', sha256: sha256('ci-bot-api-key-1'), groups: ['ci'] }, { name: 'deployer', sha256: sha256('deployer-key-2') }] },
};

describe('module (fixture plugins)', () => {
  authenticatorContract('module: the README example (ESM default export)', () => ({
    create: async (logger) => buildAuthenticator(moduleAuthenticator, apiKeys, { ...env, logger }),
    good: bearer('ci-bot-api-key-1'),
    goodName: 'ci-bot',
    bad: [bearer('ci-bot-api-key-2'), basic('apikey', 'not-a-key-at-all')],
    foreign: [basic('alice', 'ci-bot-api-key-1')],
  }));

  authenticatorContract('module: CommonJS `create` export', () => ({
    create: async (logger) => buildAuthenticator(moduleAuthenticator, { path: 'fixtures/fixed-user.cjs', options: { user: 'robot', password: 'robot-pw-1' } }, { ...env, logger }),
    good: basic('robot', 'robot-pw-1'),
    goodName: 'robot',
    bad: [basic('robot', 'robot-pw-2')],
    foreign: [basic('alice', 'robot-pw-1'), bearer('robot-pw-1')],
  }));

  it('passes groups through and takes the key as the Basic password of `apikey`', async () => {
    const auth = await buildAuthenticator(moduleAuthenticator, apiKeys, env);
    const d = await auth.authenticate(basic('apikey', 'ci-bot-api-key-1'), { clientIp: '::1' });
    assert.deepEqual(d, { kind: 'allow', identity: { name: 'ci-bot', groups: ['ci'], claims: {}, authenticator: 'keys' } });
  });

  const failures: [string, object, RegExp][] = [
    ['a missing file', { path: 'fixtures/nope.mjs' }, /^auth\.chain\[4\]\.module\.path: .*nope\.mjs: no such file/],
    ['a syntax error', { path: 'fixtures/broken-syntax.mjs' }, /^auth\.chain\[4\]\.module\.path: .*broken-syntax\.mjs: cannot load: /],
    ['a throw while loading', { path: 'fixtures/throws-on-load.cjs' }, /\.module\.path: .*cannot load: plugin exploded while loading/],
    ['no factory exported', { path: 'fixtures/no-factory.mjs' }, /\.module\.path: .*exports no factory/],
    ['a factory returning no authenticator', { path: 'fixtures/returns-nothing.mjs' }, /\.module\.path: .*returned no authenticator/],
    ['options the plugin rejects', { path: 'fixtures/api-keys.mjs', options: { keys: [{ name: 'x', sha256: 'short' }] } }, /^auth\.chain\[4\]\.module\.options: .*keys\[0\]: needs a name and a sha256/],
    ['no path', { options: {} }, /^auth\.chain\[4\]\.module\.path: /],
  ];
  for (const [what, options, message] of failures) {
    it(`fails start-up (never skips the plugin) on ${what}`, async () => {
      await assert.rejects(Promise.resolve().then(() => buildAuthenticator(moduleAuthenticator, options, env)), (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }
});
