import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/config/errors';
import { silentLogger } from '../../../src/log/logger';
import { htpasswdAuthenticator } from '../../../src/registry/auth/authenticators/htpasswd';
import { authenticatorContract, basic, bearer } from './support/contract';
import { buildAuthenticator } from './support/build';

/** A line made by the real `htpasswd -B` (apache2-utils), so `$2y$` hashes are what is tested. */
const line = (user: string, password: string) => execFileSync('htpasswd', ['-nbB', '-C', '4', user, password], { encoding: 'utf8' }).trim();

const dir = mkdtempSync(join(tmpdir(), 'imagegate-htpasswd-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const env = (configPath = 'auth.chain[0].htpasswd') => ({ name: 'files', logger: silentLogger, baseDir: dir, configPath });

authenticatorContract('htpasswd', () => {
  writeFileSync(join(dir, 'contract.htpasswd'), `# test users\n${line('alice', 'alice-pw-1')}\n${line('bob', 'bob-pw-2')}\n`);
  return {
    create: async (logger) => buildAuthenticator(htpasswdAuthenticator, { file: 'contract.htpasswd' }, { ...env(), logger }),
    good: basic('alice', 'alice-pw-1'),
    goodName: 'alice',
    bad: [basic('alice', 'bob-pw-2'), basic('bob', 'alice-pw-1')],
    foreign: [basic('carol', 'carol-pw'), bearer('some-token')],
  };
});

describe('htpasswd', () => {
  it('re-reads the file when it changes, including an atomic replace', async () => {
    const file = join(dir, 'reload.htpasswd');
    writeFileSync(file, `${line('alice', 'first-pw')}\n`);
    const auth = await buildAuthenticator(htpasswdAuthenticator, { file, reloadInterval: 0, groups: { developers: ['dave'] } }, env());
    assert.equal((await auth.authenticate(basic('alice', 'first-pw'), { clientIp: '::1' })).kind, 'allow');
    assert.equal((await auth.authenticate(basic('dave', 'dave-pw'), { clientIp: '::1' })).kind, 'abstain');

    writeFileSync(`${file}.new`, `${line('alice', 'second-pw')}\n${line('dave', 'dave-pw')}\n`);
    renameSync(`${file}.new`, file);
    assert.equal((await auth.authenticate(basic('alice', 'first-pw'), { clientIp: '::1' })).kind, 'deny');
    const dave = await auth.authenticate(basic('dave', 'dave-pw'), { clientIp: '::1' });
    assert.equal(dave.kind, 'allow');
    assert.deepEqual(dave.kind === 'allow' && dave.identity.groups, ['developers']);
  });

  it('spends as long on an unknown user as on a wrong password, so timing does not reveal who exists', async () => {
    const file = join(dir, 'timing.htpasswd');
    writeFileSync(file, `${execFileSync('htpasswd', ['-nbB', '-C', '10', 'alice', 'alice-pw'], { encoding: 'utf8' }).trim()}\n`);
    const auth = await buildAuthenticator(htpasswdAuthenticator, { file }, env());
    const median = async (user: string, expected: string) => {
      const took: number[] = [];
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        assert.equal((await auth.authenticate(basic(user, 'not-the-password'), { clientIp: '::1' })).kind, expected);
        took.push(performance.now() - started);
      }
      return took.sort((a, b) => a - b)[1];
    };
    await median('nobody', 'abstain');
    const [unknown, wrong] = [await median('nobody', 'abstain'), await median('alice', 'deny')];
    // A behaviour, not a speed: without the stand-in hash an unknown user answers ~1000× faster.
    assert.ok(unknown > wrong / 4, `unknown user ${unknown.toFixed(1)} ms, wrong password ${wrong.toFixed(1)} ms`);
  });

  it('keeps the last good file when the new one is broken', async () => {
    const file = join(dir, 'broken.htpasswd');
    writeFileSync(file, `${line('alice', 'good-pw')}\n`);
    const auth = await buildAuthenticator(htpasswdAuthenticator, { file, reloadInterval: 0 }, env());
    writeFileSync(file, 'alice:{SHA}not-bcrypt-and-longer\n');
    assert.equal((await auth.authenticate(basic('alice', 'good-pw'), { clientIp: '::1' })).kind, 'allow');
  });

  const bad: [string, unknown, () => void, RegExp][] = [
    ['a missing file', { file: 'nope.htpasswd' }, () => {}, /auth\.chain\[0\]\.htpasswd\.file: .*nope\.htpasswd/],
    ['a non-bcrypt entry', { file: 'md5.htpasswd' }, () => writeFileSync(join(dir, 'md5.htpasswd'), 'alice:$apr1$abc$def\n'), /\.file: .*line 1: user "alice" has no bcrypt hash/],
    ['no file setting', {}, () => {}, /auth\.chain\[0\]\.htpasswd\.file: /],
    ['an unknown setting', { file: 'x', fiel: 'y' }, () => {}, /auth\.chain\[0\]\.htpasswd\.fiel: unknown setting/],
    ['a bad interval', { file: 'x', reloadInterval: 'soon' }, () => {}, /\.reloadInterval: not a duration/],
  ];
  for (const [what, options, prepare, message] of bad) {
    it(`stops start-up on ${what} with a ConfigError naming the path`, () => {
      prepare();
      assert.throws(() => buildAuthenticator(htpasswdAuthenticator, options, env()), (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }
});
