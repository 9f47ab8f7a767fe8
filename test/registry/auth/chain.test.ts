import assert from 'node:assert/strict';
import { Counter, Registry } from 'prom-client';
import { z } from 'zod';
import { ConfigError } from '../../../src/config/errors';
import { silentLogger } from '../../../src/log/logger';
import type { AuthenticatorFactory } from '../../../src/registry/auth/authenticator';
import { createAuthChain } from '../../../src/registry/auth/chain';
import { authenticatorFactories, builtinAuthenticatorFactories } from '../../../src/registry/auth/builtins';
import { basic } from './support/contract';
import { capturingLogger } from './support/logs';

type Answer = 'allow' | 'deny' | 'abstain' | 'throw' | 'hang' | 'falsy' | 'nameless';

/** A scripted authenticator: answers what its options say, and records calls and closes. */
function scripted(calls: string[], name = 'scripted'): AuthenticatorFactory<{ answer: Answer }> {
  return { name, params: z.object({ answer: z.custom<Answer>() }), create: (options, env) => {
    const answer = options.answer;
    return {
      name: env.name,
      async authenticate(credentials) {
        calls.push(env.name);
        switch (answer) {
          case 'allow': return { kind: 'allow', identity: { name: `user@${env.name}`, groups: ['g'], claims: {}, authenticator: 'spoofed' } };
          case 'deny': return { kind: 'deny', reason: `no (${env.name})` };
          case 'abstain': return { kind: 'abstain' };
          case 'throw': throw new Error(`backend exploded for password ${credentials.kind === 'basic' ? credentials.password.reveal() : ''}`);
          case 'hang': return new Promise(() => {});
          case 'falsy': return false as never;
          case 'nameless': return { kind: 'allow', identity: { name: '' } } as never;
        }
      },
      async close() {
        calls.push(`close:${env.name}`);
      },
    };
  } };
}

const ctx = { clientIp: '127.0.0.1' };
const creds = basic('alice', 'chain-s3cret-pw');

async function run(answers: Answer[], timeoutMs = 10_000) {
  const calls: string[] = [];
  const factories = authenticatorFactories().register(scripted(calls));
  const metrics = new Registry();
  const { logger, lines } = capturingLogger();
  const chain = await createAuthChain(answers.map((answer, i) => ({ name: `a${i}`, scripted: { answer } })), { logger, baseDir: '.', factories, metrics: { metricsRegistry: metrics }, timeoutMs });
  const decision = await chain.authenticate(creds, ctx);
  await chain.close();
  const counts = (await metrics.getSingleMetric('imagegate_registry_auth_decisions_total')!.get()).values.map((v) => `${v.labels.authenticator}:${v.labels.result}=${v.value}`);
  return { decision, calls, lines, counts };
}

describe('auth chain', () => {
  const order: [string, Answer[], string, string[]][] = [
    ['the first allow wins', ['allow', 'deny'], 'allow:a0', ['a0']],
    ['the first deny wins', ['deny', 'allow'], 'deny', ['a0']],
    ['abstain asks the next', ['abstain', 'abstain', 'allow', 'deny'], 'allow:a2', ['a0', 'a1', 'a2']],
    ['abstain then deny denies', ['abstain', 'deny', 'allow'], 'deny', ['a0', 'a1']],
    ['the end of the chain denies', ['abstain', 'abstain'], 'deny', ['a0', 'a1']],
    ['an empty chain denies', [], 'deny', []],
    ['a throw counts as deny and stops the chain', ['throw', 'allow'], 'deny', ['a0']],
    ['a falsy answer counts as deny', ['falsy', 'allow'], 'deny', ['a0']],
    ['an allow without a name counts as deny', ['nameless', 'allow'], 'deny', ['a0']],
  ];
  for (const [what, answers, expected, called] of order) {
    it(`${what}: [${answers.join(', ')}] → ${expected}`, async () => {
      const { decision, calls } = await run(answers);
      const got = decision.kind === 'allow' ? `allow:${decision.identity.authenticator}` : decision.kind;
      assert.equal(got, expected);
      assert.deepEqual(calls.filter((c) => !c.startsWith('close:')), called);
      assert.deepEqual(calls.filter((c) => c.startsWith('close:')), answers.map((_, i) => `close:a${i}`));
    });
  }

  it('stamps the identity with the configured name and normalises it', async () => {
    const { decision } = await run(['allow']);
    assert.deepEqual(decision, { kind: 'allow', identity: { name: 'user@a0', groups: ['g'], claims: {}, authenticator: 'a0' } });
  });

  it('counts a hung authenticator as deny after the timeout', async () => {
    const { decision, counts } = await run(['hang', 'allow'], 200);
    assert.equal(decision.kind, 'deny');
    assert.deepEqual(counts, ['a0:error=1']);
  });

  it('logs a thrown error without the secret, and the end-of-chain deny', async () => {
    const thrown = await run(['throw']);
    const text = thrown.lines.join('\n');
    assert.match(text, /authenticator failed; counted as deny/);
    assert.match(text, /backend exploded for password \*\*\*/);
    assert.ok(!text.includes('chain-s3cret-pw'), text);
    const ended = await run(['abstain']);
    assert.match(ended.lines.join('\n'), /login denied: no authenticator recognised the credentials/);
  });

  it('counts decisions by authenticator and result', async () => {
    const { counts } = await run(['abstain', 'abstain', 'deny']);
    assert.deepEqual(counts.sort(), ['a0:abstain=1', 'a1:abstain=1', 'a2:deny=1']);
    assert.deepEqual((await run(['abstain'])).counts.sort(), ['(end of chain):deny=1', 'a0:abstain=1']);
  });

  it('counts in a counter passed in', async () => {
    const counter = new Counter({ name: 'test_auth_decisions_total', help: 'test', labelNames: ['authenticator', 'result'], registers: [] });
    const chain = await createAuthChain([], { logger: silentLogger, baseDir: '.', metrics: { counter } });
    await chain.authenticate(creds, ctx);
    assert.deepEqual((await counter.get()).values.map((v) => [v.labels, v.value]), [[{ authenticator: '(end of chain)', result: 'deny' }, 1]]);
  });

  it('reuses the counter already in a registry when two chains share it', async () => {
    const metrics = new Registry();
    const first = await createAuthChain([], { logger: silentLogger, baseDir: '.', metrics: { metricsRegistry: metrics } });
    const second = await createAuthChain([], { logger: silentLogger, baseDir: '.', metrics: { metricsRegistry: metrics } });
    await first.authenticate(creds, ctx);
    await second.authenticate(creds, ctx);
    const values = (await metrics.getSingleMetric('imagegate_registry_auth_decisions_total')!.get()).values;
    assert.equal(values[0].value, 2);
  });

  describe('configuration', () => {
    const htpasswd = { file: 'test/registry/auth/fixtures/users.htpasswd' };
    const bad: [string, unknown, RegExp][] = [
      ['not a list', { htpasswd }, /^auth\.chain: must be a list/],
      ['an unknown type', [{ htpasswd }, { kerberos: {} }], /^auth\.chain\[1\]\.kerberos: unknown authenticator type "kerberos" \(known: aws-iam, htpasswd, jwt, ldap, module, oauth2-introspection, static, webhook\)/],
      ['two types in one entry', [{ htpasswd, static: {} }], /^auth\.chain\[0\]: needs exactly one authenticator type .* found htpasswd, static/],
      ['no type', [{ name: 'x' }], /^auth\.chain\[0\]: needs exactly one authenticator type .* found none/],
      ['a duplicate name', [{ name: 'corp', htpasswd }, { name: 'corp', htpasswd }], /^auth\.chain\[1\]\.name: duplicate authenticator name "corp"/],
      ['a duplicate default name', [{ htpasswd }, { htpasswd }], /^auth\.chain\[1\]\.name: duplicate authenticator name "htpasswd"/],
      ['a bad name', [{ name: 'a b', htpasswd }], /^auth\.chain\[0\]\.name: must be letters/],
      ['bad options, named by path', [{ htpasswd }, { name: 'corp', ldap: { url: 'http://x', bindDN: 'a', bindPassword: 'b', userBase: 'c' } }], /^auth\.chain\[1\]\.ldap\.url: must be ldap:\/\/host:port/],
      ['an entry that is not an object', ['htpasswd'], /^auth\.chain\[0\]: must be an object/],
      ['a plugin that cannot load', [{ module: { path: 'test/registry/auth/fixtures/throws-on-load.cjs' } }], /^auth\.chain\[0\]\.module\.path: .*cannot load/],
    ];
    for (const [what, entries, message] of bad) {
      it(`stops start-up on ${what} with a ConfigError naming the path`, async () => {
        await assert.rejects(createAuthChain(entries, { logger: silentLogger, baseDir: '.' }), (err: unknown) => err instanceof ConfigError && message.test(err.message));
      });
    }

    it('closes the authenticators already built when a later one fails', async () => {
      const calls: string[] = [];
      const factories = authenticatorFactories().register(scripted(calls)).register({ name: 'broken', params: z.object({}), create: () => {
        throw new Error('cannot start');
      } });
      await assert.rejects(
        createAuthChain([{ name: 'ok', scripted: { answer: 'allow' } }, { broken: {} }], { logger: silentLogger, baseDir: '.', factories }),
        /auth\.chain\[1\]\.broken: cannot start/,
      );
      assert.deepEqual(calls, ['close:ok']);
    });

    it('refuses to register a type twice, or a badly named one', () => {
      assert.throws(() => builtinAuthenticatorFactories().register(scripted([], 'ldap')), (e: unknown) => e instanceof ConfigError && /"ldap": is already registered/.test(e.message));
      assert.throws(() => authenticatorFactories().register(scripted([], 'My Type')), ConfigError);
    });

    it('builds a chain of built-ins from YAML-shaped config and runs it', async () => {
      const chain = await createAuthChain(
        [{ htpasswd }, { name: 'robots', static: { users: [{ username: 'robot', password: 'robot-pw' }] } }],
        { logger: silentLogger, baseDir: '.' },
      );
      assert.deepEqual(chain.names, ['htpasswd', 'robots']);
      assert.equal((await chain.authenticate(basic('demo', 'demo-password'), ctx)).kind, 'allow');
      const robot = await chain.authenticate(basic('robot', 'robot-pw'), ctx);
      assert.equal(robot.kind === 'allow' && robot.identity.authenticator, 'robots');
      assert.equal((await chain.authenticate(basic('demo', 'robot-pw'), ctx)).kind, 'deny');
      assert.equal((await chain.authenticate(basic('nobody', 'x'), ctx)).kind, 'deny');
      await chain.close();
    });
  });
});
