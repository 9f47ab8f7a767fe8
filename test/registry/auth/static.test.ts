import assert from 'node:assert/strict';
import bcrypt from 'bcryptjs';
import { ConfigError } from '../../../src/config/errors';
import { silentLogger } from '../../../src/log/logger';
import { listedUsersAuthenticator } from '../../../src/registry/auth/authenticators/static';
import { authenticatorContract, basic, bearer } from './support/contract';
import { buildAuthenticator } from './support/build';

const env = { name: 'users', logger: silentLogger, baseDir: '.', configPath: 'auth.chain[0].static' };
const users = () => [
  { username: 'alice', bcrypt: bcrypt.hashSync('alice-pw-1', 4), groups: ['developers'] },
  { username: 'robot', password: 'robot-plain-pw' },
];

authenticatorContract('static (bcrypt)', () => ({
  create: async (logger) => buildAuthenticator(listedUsersAuthenticator, { users: users() }, { ...env, logger }),
  good: basic('alice', 'alice-pw-1'),
  goodName: 'alice',
  bad: [basic('alice', 'robot-plain-pw'), basic('alice', 'alice-pw-1 ')],
  foreign: [basic('mallory', 'alice-pw-1'), bearer('alice-pw-1')],
}));

authenticatorContract('static (plain)', () => ({
  create: async (logger) => buildAuthenticator(listedUsersAuthenticator, { users: users() }, { ...env, logger }),
  good: basic('robot', 'robot-plain-pw'),
  goodName: 'robot',
  bad: [basic('robot', 'robot-plain-p'), basic('robot', 'ROBOT-PLAIN-PW')],
  foreign: [basic('Robot', 'robot-plain-pw')],
}));

describe('static', () => {
  it('gives configured groups', async () => {
    const d = await (await buildAuthenticator(listedUsersAuthenticator, { users: users() }, env)).authenticate(basic('alice', 'alice-pw-1'), { clientIp: '::1' });
    assert.deepEqual(d.kind === 'allow' && d.identity.groups, ['developers']);
  });

  const bad: [string, unknown, RegExp][] = [
    ['no users', { users: [] }, /auth\.chain\[0\]\.static\.users: needs at least one user/],
    ['both kinds of password', { users: [{ username: 'a', password: 'x', bcrypt: bcrypt.hashSync('x', 4) }] }, /\.users\[0\]: give exactly one of password or bcrypt/],
    ['a hash that is not bcrypt', { users: [{ username: 'a', bcrypt: '{SHA}abc' }] }, /\.users\[0\]\.bcrypt: not a bcrypt hash/],
    ['a duplicate user', { users: [{ username: 'a', password: 'x' }, { username: 'a', password: 'y' }] }, /\.users\[1\]\.username: duplicate username "a"/],
  ];
  for (const [what, options, message] of bad) {
    it(`refuses ${what} with a ConfigError naming the path`, () => {
      assert.throws(() => buildAuthenticator(listedUsersAuthenticator, options, env), (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }
});
