import assert from 'node:assert/strict';
import { claimAt, claimMappingSchema, identityFrom, parseClaimPath } from '../../../src/registry/auth/authenticators/claims';

describe('claim paths', () => {
  const table: [string, string[] | undefined][] = [
    ['sub', ['sub']],
    ['realm_access.roles', ['realm_access', 'roles']],
    ['[https://sts.amazonaws.com/].aws_account', ['https://sts.amazonaws.com/', 'aws_account']],
    ['a[b.c][d]', ['a', 'b.c', 'd']],
    ['', undefined],
    ['a..b', undefined],
    ['a.', undefined],
    ['[unclosed', undefined],
  ];
  for (const [text, keys] of table) {
    it(`parses ${JSON.stringify(text)}`, () => assert.deepEqual(parseClaimPath(text), keys));
  }

  it('reads only own properties, never through arrays or prototypes', () => {
    const claims = { a: { b: 1 }, list: [{ x: 1 }] };
    assert.equal(claimAt(claims, ['a', 'b']), 1);
    assert.equal(claimAt(claims, ['list', '0']), undefined);
    assert.equal(claimAt(claims, ['constructor']), undefined);
    assert.equal(claimAt(claims, ['a', '__proto__']), undefined);
  });

  it('maps the first present name, merged string groups and attributes', () => {
    const mapping = claimMappingSchema({ name: ['sub'], groups: [] }).parse({
      name: ['preferred_username', 'sub'],
      groups: ['groups', 'realm.roles', 'team'],
      attributes: { account: '[https://sts.amazonaws.com/].aws_account' },
    });
    const claims = { sub: 's-1', groups: ['a', 'b', 3], realm: { roles: ['b', 'c'] }, team: 'd', 'https://sts.amazonaws.com/': { aws_account: '111122223333' } };
    const identity = identityFrom(claims, mapping);
    assert.equal(identity?.name, 's-1');
    assert.deepEqual(identity?.groups, ['a', 'b', 'c', 'd']);
    assert.equal(identity?.claims.account, '111122223333');
    assert.equal(identityFrom({ sub: '' }, mapping), undefined);
  });
});
