import assert from 'node:assert/strict';
import type { Identity } from '../../src/registry/auth/authenticator';
import { Authorizer } from '../../src/registry/access/authorizer';
import { compileGlob } from '../../src/registry/access/glob';
import { LoginLimiter } from '../../src/registry/access/login-limiter';
import { parseScopes } from '../../src/registry/access/scope';
import { TokenIssuer } from '../../src/registry/access/token-issuer';
import { registrySchema } from '../../src/registry/config';
import { parseChallenge } from '../../src/registry/upstream/challenge';
import { parseV2Path } from '../../src/registry/http/paths';
import { UpstreamRouter } from '../../src/registry/upstream/router';
import type { Upstream } from '../../src/registry/upstream/upstream';

const who = (name: string, groups: string[] = [], claims: Record<string, unknown> = {}): Identity => ({ name, groups, claims, authenticator: 'test' });

describe('registry facade: building blocks', () => {
  describe('path parsing', () => {
    const ok: [string, unknown][] = [
      ['/v2/', { route: 'base' }],
      ['/v2/a/b/manifests/latest', { route: 'manifest', name: 'a/b', reference: 'latest' }],
      ['/v2/a/manifests/b/manifests/v1', { route: 'manifest', name: 'a/manifests/b', reference: 'v1' }],
      [`/v2/a/blobs/sha256:${'a'.repeat(64)}`, { route: 'blob', name: 'a', digest: `sha256:${'a'.repeat(64)}` }],
      ['/v2/x__y/z-1.2/tags/list', { route: 'tags', name: 'x__y/z-1.2' }],
      ['/v2/a/blobs/uploads/', { route: 'write' }],
    ];
    for (const [path, want] of ok) it(`parses ${path}`, () => assert.deepEqual(parseV2Path(path), want));
    for (const path of ['/v2/a/../b/manifests/1', '/v2/a%2fb/manifests/1', '/v2/A/manifests/1', '/v2/a_/manifests/1', '/v2/a\\b/manifests/1', '/v2//manifests/1']) {
      it(`refuses ${path} as NAME_INVALID`, () => assert.throws(() => parseV2Path(path), { code: 'NAME_INVALID' }));
    }
  });

  describe('scopes', () => {
    it('parses repeated and space-separated scopes, names with host:port, and drops malformed ones', () => {
      assert.deepEqual(parseScopes(['repository:a/b:pull,push repository:localhost:5000/x:pull', 'registry:catalog:*', 'junk', 'repository(plugin):c:pull']), [
        { type: 'repository', name: 'a/b', actions: ['pull', 'push'] },
        { type: 'repository', name: 'localhost:5000/x', actions: ['pull'] },
        { type: 'registry', name: 'catalog', actions: ['*'] },
        { type: 'repository', name: 'c', actions: ['pull'] },
      ]);
    });
  });

  describe('WWW-Authenticate parsing', () => {
    it('reads quoted values with commas and unquoted values', () => {
      assert.deepEqual(parseChallenge('Bearer realm="https://auth.docker.io/token",service=registry.docker.io,scope="repository:a:pull,push"'), {
        scheme: 'bearer',
        params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:a:pull,push' },
      });
      assert.deepEqual(parseChallenge('Basic realm="x"'), { scheme: 'basic', params: { realm: 'x' } });
      assert.equal(parseChallenge(undefined), undefined);
    });
  });

  describe('authorization', () => {
    const authz = new Authorizer(
      [
        { identity: 'alice', repositories: ['team-a/**'], actions: ['pull'] },
        { group: 'ops', repositories: ['*'], actions: ['pull'] },
        { claims: { account: '1234' }, repositories: ['aws/**'], actions: ['pull'] },
        { identity: '*', repositories: ['users/${identity}/*'], actions: ['pull'] },
      ],
      ['public/**'],
    );
    const table: [string, Identity | undefined, string, boolean][] = [
      ['identity glob', who('alice'), 'team-a/x/y', true],
      ['identity, other repo', who('alice'), 'team-b/x', false],
      ['group, one component', who('bob', ['ops']), 'tool', true],
      ['group, * stays in one component', who('bob', ['ops']), 'tool/x', false],
      ['claim', who('arn', [], { account: '1234' }), 'aws/app', true],
      ['claim array', who('arn', [], { account: ['9', '1234'] }), 'aws/app', true],
      ['wrong claim', who('arn', [], { account: '5678' }), 'aws/app', false],
      ['${identity}', who('carol'), 'users/carol/app', true],
      ['${identity} of someone else', who('carol'), 'users/dave/app', false],
      ['anonymous pattern', undefined, 'public/x', true],
      ['anonymous elsewhere', undefined, 'team-a/x', false],
      ['deny by default', who('nobody'), 'team-a/x', false],
    ];
    for (const [what, identity, repo, allowed] of table) {
      it(`${what}: ${allowed ? 'allows' : 'denies'} ${repo}`, () => assert.equal(authz.actions(identity, repo).has('pull'), allowed));
    }
    it('grants the intersection of requested and allowed', () => {
      assert.deepEqual(authz.grant(who('alice'), [{ type: 'repository', name: 'team-a/x', actions: ['pull', 'push'] }, { type: 'repository', name: 'team-b/x', actions: ['pull'] }]), [
        { type: 'repository', name: 'team-a/x', actions: ['pull'] },
      ]);
    });
    it('escapes regex characters in globs', () => assert.equal(compileGlob('a.b').test('axb'), false));
    const injections: [string, string][] = [
      ['al*ice', 'users/alice/app'],
      ['ali?ce', 'users/alice/app'],
      ['*', 'users/alice/app'],
      ['**', 'users/alice/app'],
      ['alice/app', 'users/alice/app/x'],
      ['..', 'users/../alice/app'],
      ['a.ice', 'users/alice/app'],
      ['[a-z]lice', 'users/alice/app'],
      ['alice)|(.*', 'users/alice/app'],
    ];
    for (const [name, repo] of injections) {
      it(`an identity named ${JSON.stringify(name)} cannot widen users/\${identity}/*: denies ${repo}`, () => assert.equal(authz.actions(who(name), repo).has('pull'), false));
    }
    it('an identity used twice in a pattern must match both places', () => {
      const twice = new Authorizer([{ identity: '*', repositories: ['${identity}/x/${identity}'], actions: ['pull'] }]);
      assert.equal(twice.actions(who('bob'), 'bob/x/bob').has('pull'), true);
      assert.equal(twice.actions(who('bob'), 'bob/x/eve').has('pull'), false);
    });
  });

  describe('login limiter', () => {
    const fail = async (limiter: LoginLimiter, client: string, user: string) => {
      const a = await limiter.admit(client, user);
      if (a.kind === 'admitted') a.ticket.settle(false);
      return a.kind;
    };
    it('refuses a (client, user) pair after its limit, not other users, and the client after its own limit', async () => {
      const limiter = new LoginLimiter({ windowMs: 60_000, perClientAndUser: 3, perClient: 5, maxInFlight: 100 });
      for (let i = 0; i < 3; i++) assert.equal(await fail(limiter, '1.2.3.4', 'alice'), 'admitted');
      assert.equal((await limiter.admit('1.2.3.4', 'alice')).kind, 'refused');
      assert.equal(await fail(limiter, '5.6.7.8', 'alice'), 'admitted');
      assert.equal(await fail(limiter, '1.2.3.4', 'bob'), 'admitted');
      assert.equal(await fail(limiter, '1.2.3.4', 'carol'), 'admitted');
      assert.equal((await limiter.admit('1.2.3.4', 'dave')).kind, 'refused');
    });
    it('counts attempts when admitted, so concurrent attempts cannot pass the budget; a success gives its reservation back', async () => {
      const limiter = new LoginLimiter({ windowMs: 60_000, perClientAndUser: 3, perClient: 100, maxInFlight: 100 });
      const admitted = (await Promise.all(Array.from({ length: 10 }, () => limiter.admit('1.2.3.4', 'alice')))).filter((a) => a.kind === 'admitted');
      assert.equal(admitted.length, 3);
      for (const a of admitted) if (a.kind === 'admitted') a.ticket.settle(true);
      assert.equal((await limiter.admit('1.2.3.4', 'alice')).kind, 'admitted');
    });
    it('bounds the logins in flight from everyone', async () => {
      const limiter = new LoginLimiter({ windowMs: 60_000, perClientAndUser: 3, perClient: 5, maxInFlight: 2 });
      const a = await limiter.admit('10.0.0.1', 'a');
      await limiter.admit('10.0.0.2', 'b');
      const c = await limiter.admit('10.0.0.3', 'c');
      assert.equal(c.kind === 'refused' && c.reason, 'busy');
      if (a.kind === 'admitted') a.ticket.settle(false);
      assert.equal((await limiter.admit('10.0.0.3', 'c')).kind, 'admitted');
    });
    it('counts an IPv6 client by its /64 and an IPv4-mapped address as IPv4', async () => {
      const limiter = new LoginLimiter({ windowMs: 60_000, perClientAndUser: 2, perClient: 100, maxInFlight: 100 });
      await fail(limiter, '2001:db8:1:2::1', 'alice');
      await fail(limiter, '2001:db8:1:2:ffff::9', 'alice');
      assert.equal((await limiter.admit('2001:0db8:0001:0002::5', 'alice')).kind, 'refused');
      await fail(limiter, '::ffff:10.1.1.1', 'bob');
      await fail(limiter, '10.1.1.1', 'bob');
      assert.equal((await limiter.admit('10.1.1.1', 'bob')).kind, 'refused');
    });
    it('stays bounded', async () => {
      const limiter = new LoginLimiter({ windowMs: 60_000, perClientAndUser: 3, perClient: 5, maxInFlight: 100, maxKeys: 100 });
      for (let i = 0; i < 10_000; i++) await fail(limiter, `10.0.${i >> 8}.${i & 255}`, 'x');
      for (let i = 0; i < 3; i++) assert.equal(await fail(limiter, '10.0.0.0', 'x'), 'admitted', 'the oldest keys were forgotten');
    });
  });

  describe('token issuer', () => {
    it('round-trips its own tokens and refuses another issuer’s', async () => {
      const a = new TokenIssuer({ issuer: 'i', service: 's', ttlMs: 60_000 });
      const b = new TokenIssuer({ issuer: 'i', service: 's', ttlMs: 60_000 });
      const { token, expiresIn } = await a.issue('alice', [{ type: 'repository', name: 'x', actions: ['pull'] }]);
      assert.equal(expiresIn, 60);
      assert.deepEqual((await a.verify(token))?.access, [{ type: 'repository', name: 'x', actions: ['pull'] }]);
      assert.equal(await b.verify(token), undefined);
    });
  });

  describe('routing', () => {
    const up = (name: string): Upstream => ({ name, fetch: async () => ({ status: 200, headers: {} }), close: async () => undefined });
    const router = new UpstreamRouter([
      { prefix: '', upstream: up('default') },
      { prefix: 'hub', repositoryPrefix: 'library', upstream: up('hub') },
      { prefix: 'team/a', upstream: up('team-a') },
    ]);
    const table: [string, string, string][] = [
      ['hub/nginx', 'hub', 'library/nginx'],
      ['hubby/x', 'default', 'hubby/x'],
      ['team/a/app', 'team-a', 'app'],
      ['team/ab', 'default', 'team/ab'],
      ['hub', 'default', 'hub'],
    ];
    for (const [name, upstream, repository] of table) {
      it(`routes ${name} to ${upstream} as ${repository}`, () => {
        const r = router.resolve(name);
        assert.equal(r.upstream.name, upstream);
        assert.equal(r.repository, repository);
      });
    }
    it('without a catch-all, an unclaimed name is NAME_UNKNOWN', () => {
      assert.throws(() => new UpstreamRouter([{ prefix: 'hub', upstream: up('hub') }]).resolve('other/x'), { code: 'NAME_UNKNOWN' });
    });
  });

  describe('configuration', () => {
    const base = { upstreams: [{ name: 'u', url: 'https://r.example.com' }] };
    it('fills every default', () => {
      const c = registrySchema.parse(base);
      assert.deepEqual(c.listen, { host: undefined, port: 5050 });
      assert.equal(c.token.ttl, 300_000);
      assert.equal(c.upstreams[0].timeout, 30_000);
      assert.equal(c.upstreams[0].redirects, 'follow');
      assert.deepEqual(c.upstreams[0].auth, { anonymous: {} });
      assert.equal(c.rateLimit.perClientAndUser, 10);
    });
    const bad: [string, unknown, string][] = [
      ['two upstream auth kinds', { upstreams: [{ name: 'u', url: 'https://r', auth: { anonymous: {}, static: { token: { value: 't' } } } }] }, 'upstreams.0.auth'],
      ['a non-http URL', { upstreams: [{ name: 'u', url: 'ftp://r' }] }, 'upstreams.0.url'],
      ['no upstreams', { upstreams: [] }, 'upstreams'],
      ['an unknown key', { ...base, colour: 'blue' }, ''],
      ['a bad duration', { ...base, token: { ttl: 'soon' } }, 'token.ttl'],
    ];
    for (const [what, input, path] of bad) {
      it(`refuses ${what} at ${path || 'the top'}`, () => {
        const r = registrySchema.safeParse(input);
        assert.equal(r.success, false);
        assert.equal(r.error!.issues[0].path.join('.'), path);
      });
    }
  });
});
