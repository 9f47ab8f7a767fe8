import assert from 'node:assert/strict';
import { compileGlob, hasWildcard, type GlobOptions } from '../../src/lib/glob';

type Row = [pattern: string, text: string, matches: boolean];

function table(name: string, options: GlobOptions, rows: Row[]): void {
  describe(name, () => {
    for (const [pattern, text, matches] of rows) {
      it(`${JSON.stringify(pattern)} ${matches ? 'matches' : 'does not match'} ${JSON.stringify(text)}`, () => assert.equal(compileGlob(pattern, options).test(text), matches));
    }
  });
}

describe('lib: glob dialect', () => {
  // Today's cases of credentials/rules.ts (registry hosts: the host is one segment, case-insensitive).
  table('registry hosts (credential rules)', { ignoreCase: true }, [
    ['*.dkr.ecr.*.amazonaws.com', '123456789012.dkr.ecr.us-east-1.amazonaws.com', true],
    ['*.dkr.ecr.*.amazonaws.com', '123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example', false],
    ['*.dkr.ecr.*.amazonaws.com', '123456789012.DKR.ECR.us-east-1.AMAZONAWS.com', true],
    ['*.pkg.dev', 'europe-docker.pkg.dev', true],
    ['*.pkg.dev', 'pkg.dev', false],
    ['*.example.com', 'a.b.example.com', true],
    ['*', 'registry.example.com:5000', true],
    ['registry.example.com', 'registryxexample.com', false],
    ['registry.example.com:5000', 'registry.example.com:5000', true],
    ['registry.example.com', 'registry.example.com:5000', false],
    ['reg?stry.example.com', 'registry.example.com', true],
    ['reg?stry.example.com', 'regstry.example.com', false],
    ['127.0.0.1:*', '127.0.0.1:5000', true],
  ]);

  // Today's cases of registry/access (repository names, identities, claims: `/` separates segments, case-sensitive).
  table('repository names (facade authorization)', {}, [
    ['team-a/**', 'team-a/x/y', true],
    ['team-a/**', 'team-a/x', true],
    ['team-a/**', 'team-a', false],
    ['team-a/**', 'team-b/x', false],
    ['*', 'tool', true],
    ['*', 'tool/x', false],
    ['public/**', 'public/x', true],
    ['aws/**', 'aws/app', true],
    ['users/*', 'users/alice', true],
    ['a.b', 'axb', false],
    ['a.b', 'a.b', true],
    ['**', 'a/b/c', true],
    ['**/app', 'team/app', true],
    ['**/app', 'app', false],
    ['a/**/b', 'a/x/y/b', true],
    ['a/**/b', 'a/b', false],
    ['ab?', 'abc', true],
    ['ab?', 'ab/', false],
    ['alice', 'Alice', false],
    ['1234', '1234', true],
    ['arn:aws:iam::*:role/dev', 'arn:aws:iam::123:role/dev', true],
  ]);

  table('everything but *, ? and ** is literal', {}, [
    ['[a-z]lice', 'alice', false],
    ['[a-z]lice', '[a-z]lice', true],
    ['{a,b}', 'a', false],
    ['{a,b}', '{a,b}', true],
    ['alice|bob', 'bob', false],
    ['alice)|(.*', 'anything', false],
    ['!x', 'y', false],
    ['!x', '!x', true],
    ['@(x)', 'x', false],
    ['+(x)', 'xx', false],
    ['a+b', 'aab', false],
    ['^a$', '^a$', true],
    ['CORP\\alice', 'CORP\\alice', true],
    ['CORP\\alice', 'CORPalice', false],
  ]);

  // Today's cases of outbound/host.ts (DNS labels and the port are segments, case-insensitive).
  table('host names (outbound allowlist)', { segments: 'host', ignoreCase: true }, [
    ['api.example.com', 'api.example.com', true],
    ['api.example.com', 'API.EXAMPLE.COM', true],
    ['api.example.com', 'evil.api.example.com', false],
    ['*.svc.example.com', 'a.svc.example.com', true],
    ['*.svc.example.com', 'a.b.svc.example.com', false],
    ['*.svc.example.com', 'svc.example.com', false],
    ['**.corp.example', 'x.y.corp.example', true],
    ['**.corp.example', 'x.corp.example', true],
    ['**.corp.example', 'corp.example', false],
    ['10.0.0.1:8443', '10.0.0.1:8443', true],
    ['10.0.0.1:8443', '10.0.0.1:8444', false],
    ['localhost:*', 'localhost:1234', true],
    ['localhost:*', 'localhost', false],
    ['[::1]', '[::1]', true],
    ['[::1]:*', '[::1]:8080', true],
    ['[fd00::*]', '[fd00::1]', true],
    ['[fd00::*]', '[fd00::1:2]', false],
    ['*.example.com', 'a.example.com/x', false],
  ]);

  describe('values', () => {
    it('substitutes a value escaped, so it matches only itself', () => {
      for (const [value, text, matches] of [
        ['alice', 'users/alice/app', true],
        ['al*ice', 'users/alice/app', false],
        ['al*ice', 'users/al*ice/app', true],
        ['a.ice', 'users/alice/app', false],
        ['[a-z]lice', 'users/alice/app', false],
        ['**', 'users/alice/app', false],
      ] as const) {
        assert.equal(compileGlob('users/${identity}/*', { values: { identity: value } }).test(text), matches, `${value} on ${text}`);
      }
    });
    it('leaves a placeholder without a value literal', () => {
      assert.equal(compileGlob('users/${identity}').test('users/${identity}'), true);
      assert.equal(compileGlob('users/${identity}').test('users/alice'), false);
    });
  });

  it('tells a pattern with wildcards from a literal one', () => {
    assert.equal(hasWildcard('*.example.com'), true);
    assert.equal(hasWildcard('reg?.example.com'), true);
    assert.equal(hasWildcard('registry.example.com'), false);
  });
});
