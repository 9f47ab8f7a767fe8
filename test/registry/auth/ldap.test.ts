import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/config/errors';
import { silentLogger } from '../../../src/log/logger';
import { Client } from 'ldapts';
import { escapeFilterValue, fillFilter } from '../../../src/registry/auth/authenticators/ldap-filter';
import { ldapAuthenticator } from '../../../src/registry/auth/authenticators/ldap';
import type { Authenticator } from '../../../src/registry/auth/authenticator';
import { requireTcp } from '../../../testing/services';
import { authenticatorContract, basic, bearer } from './support/contract';
import { LDAP_BASE, LDAP_HOST_PORT, LDAP_USERS, ldapOptions } from './support/ldap';
import { buildAuthenticator } from './support/build';

const env = { name: 'corp', logger: silentLogger, baseDir: '.', configPath: 'auth.chain[1].ldap' };
const ctx = { clientIp: '127.0.0.1' };

describe('ldap (real slapd)', () => {
  before(() => requireTcp('slapd', LDAP_HOST_PORT));

  authenticatorContract('ldap', () => ({
    create: async (logger) => buildAuthenticator(ldapAuthenticator, ldapOptions(), { ...env, logger }),
    good: basic('alice', LDAP_USERS.alice.password),
    goodName: 'alice',
    bad: [basic('alice', LDAP_USERS.bob.password), basic('alice', ''), basic('*', 'alice-s3cret'), basic('admin)(|(uid=*', 'x-y-z-w')],
    foreign: [basic('nobody', 'nobody-pw'), bearer('some-bearer-token')],
  }));

  let auth: Authenticator;
  before(async () => {
    auth = await buildAuthenticator(ldapAuthenticator, ldapOptions(), env);
  });

  for (const [user, { password, groups }] of Object.entries(LDAP_USERS)) {
    it(`allows ${user} with the directory's groups [${groups.join(', ')}] and attributes`, async () => {
      const d = await auth.authenticate(basic(user, password), ctx);
      assert.equal(d.kind, 'allow', JSON.stringify(d));
      if (d.kind !== 'allow') return;
      assert.deepEqual([...d.identity.groups].sort(), [...groups].sort());
      assert.equal(d.identity.claims.dn, `uid=${user},ou=people,${LDAP_BASE}`);
      assert.match(String(d.identity.claims.cn), /Example$/);
    });
  }

  const injections = ['*', 'admin)(|(uid=*', 'alice)(uid=*', '*)(objectClass=*', 'ali*', 'alice\\', '(uid=alice)', 'alice\0', 'alice)(|(userPassword=*))'];
  for (const username of injections) {
    it(`denies the filter-injection user name ${JSON.stringify(username)}`, async () => {
      for (const password of ['alice-s3cret', 'x', '*']) {
        assert.equal((await auth.authenticate(basic(username, password), ctx)).kind, 'deny');
      }
    });
  }

  it('denies an empty password (never an anonymous bind), even for a real user', async () => {
    assert.deepEqual(await auth.authenticate(basic('alice', ''), ctx), { kind: 'deny', reason: 'empty password' });
  });

  it('denies when the directory is down', async () => {
    const down = await buildAuthenticator(ldapAuthenticator, { ...ldapOptions(), url: 'ldap://127.0.0.1:9', timeout: '2s' }, env);
    assert.deepEqual(await down.authenticate(basic('alice', LDAP_USERS.alice.password), ctx), { kind: 'deny', reason: 'directory unavailable' });
  });

  it('denies when the service account cannot bind', async () => {
    const wrong = await buildAuthenticator(ldapAuthenticator, { ...ldapOptions(), bindPassword: 'not-the-service-password' }, env);
    assert.equal((await wrong.authenticate(basic('alice', LDAP_USERS.alice.password), ctx)).kind, 'deny');
  });

  it('escapes filter values per RFC 4515', () => {
    const table: [string, string][] = [
      ['alice', 'alice'],
      ['*', '\\2a'],
      ['admin)(|(uid=*', 'admin\\29\\28|\\28uid=\\2a'],
      ['a\\b', 'a\\5cb'],
      ['a\0b', 'a\\00b'],
      ['ünï', 'ünï'],
    ];
    for (const [input, escaped] of table) assert.equal(escapeFilterValue(input), escaped);
  });

  it('escaped values stay literal on the real server (what the precheck backs up)', async () => {
    const client = new Client({ url: `ldap://${LDAP_HOST_PORT}`, timeout: 3000 });
    try {
      const o = ldapOptions();
      await client.bind(o.bindDN, o.bindPassword);
      const count = async (filter: string) => (await client.search(o.userBase, { scope: 'sub', filter })).searchEntries.length;
      assert.equal(await count('(uid=*)'), 3);
      for (const evil of ['*', 'admin)(|(uid=*', '*)(objectClass=*']) {
        assert.equal(await count(fillFilter('(uid={username})', { username: evil })), 0, evil);
      }
    } finally {
      await client.unbind();
    }
  });

  const bad: [string, object, RegExp][] = [
    ['plain ldap:// off loopback', { url: 'ldap://ldap.example.com:389' }, /auth\.chain\[1\]\.ldap\.url: plain ldap:\/\/ needs startTls/],
    ['a URL with a path', { url: 'ldap://127.0.0.1:3890/dc=x' }, /\.ldap\.url: must be ldap:\/\/host:port/],
    ['a user filter without {username}', { userFilter: '(uid=alice)' }, /\.ldap\.userFilter: must contain \{username\}/],
    ['an empty bind password', { bindPassword: '' }, /\.ldap\.bindPassword: must not be empty/],
  ];
  for (const [what, patch, message] of bad) {
    it(`refuses ${what} with a ConfigError naming the path`, () => {
      assert.throws(() => buildAuthenticator(ldapAuthenticator, { ...ldapOptions(), ...patch }, env), (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }
});
