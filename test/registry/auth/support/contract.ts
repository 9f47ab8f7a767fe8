/**
 * The suite every authenticator must pass, whatever it checks against:
 * allow on good credentials, deny on bad, abstain on someone else's, never
 * throw (whatever the input), and never let a secret reach a log line — its
 * own or the chain's around it.
 */
import assert from 'node:assert/strict';
import { z } from 'zod';
import { Secret } from '../../../../src/log/secret';
import type { AuthContext, AuthDecision, Authenticator, ClientCredentials } from '../../../../src/registry/auth/authenticator';
import { authenticatorFactories } from '../../../../src/registry/auth/builtins';
import { createAuthChain } from '../../../../src/registry/auth/chain';
import { capturingLogger } from './logs';
import type { Logger } from '../../../../src/log/logger';

export interface ContractSubject {
  /** Builds the authenticator under test with the given logger (name `subject`). */
  create(logger: Logger): Promise<Authenticator>;
  good: ClientCredentials;
  /** Identity name the good credentials must yield. */
  goodName: string;
  /** Credentials this authenticator owns but must refuse. */
  bad: ClientCredentials[];
  /** Credentials that are not this authenticator's (→ abstain); empty when it claims everything. */
  foreign: ClientCredentials[];
}

export const basic = (username: string, password: string): ClientCredentials => ({ kind: 'basic', username, password: new Secret(password) });
export const bearer = (token: string): ClientCredentials => ({ kind: 'bearer', token: new Secret(token) });
const context: AuthContext = { clientIp: '127.0.0.1', repository: 'team-a/app' };

function secretOf(c: ClientCredentials): string {
  return c.kind === 'basic' ? c.password.reveal() : c.token.reveal();
}

/** Odd input every authenticator must answer with a decision, not a throw. */
const ODD: ClientCredentials[] = [
  basic('', ''),
  basic('alice', ''),
  basic('', 'x'),
  basic('a'.repeat(10_000), 'b'.repeat(10_000)),
  basic('\0\n\r', '\0'),
  basic('ünïcødé☃', '🔑'),
  basic('*', '*'),
  basic('admin)(|(uid=*', 'x'),
  bearer(''),
  bearer('not-a-token'),
  bearer('eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.'),
  bearer('a.b.c'),
  bearer('x'.repeat(100_000)),
];

const KINDS = new Set(['allow', 'deny', 'abstain']);

/** Registers the shared suite for one authenticator under `title`. */
export function authenticatorContract(title: string, subject: () => ContractSubject | Promise<ContractSubject>): void {
  describe(`${title}: the authenticator contract`, () => {
    let s: ContractSubject;
    let auth: Authenticator;
    let lines: string[];
    let logger: Logger;
    before(async () => {
      s = await subject();
      ({ logger, lines } = capturingLogger());
      auth = await s.create(logger);
    });
    after(() => auth?.close());

    it('allows good credentials with the expected identity', async () => {
      const d = await auth.authenticate(s.good, context);
      assert.equal(d.kind, 'allow', JSON.stringify(d));
      const { identity } = d as Extract<AuthDecision, { kind: 'allow' }>;
      assert.equal(identity.name, s.goodName);
      assert.ok(Array.isArray(identity.groups));
      assert.equal(typeof identity.claims, 'object');
    });

    it('denies bad credentials it owns', async () => {
      for (const c of s.bad) {
        const d = await auth.authenticate(c, context);
        assert.equal(d.kind, 'deny', `${JSON.stringify(c)} → ${JSON.stringify(d)}`);
        assert.ok(!(d as { reason: string }).reason.includes(secretOf(c)) || secretOf(c).length < 4);
      }
    });

    it('abstains on credentials that are not its own (where any exist)', async () => {
      for (const c of s.foreign) assert.deepEqual(await auth.authenticate(c, context), { kind: 'abstain' }, JSON.stringify(c));
    });

    it('never throws and always answers a decision', async () => {
      for (const c of ODD) {
        const d = await auth.authenticate(c, context);
        assert.ok(d && KINDS.has(d.kind), `${JSON.stringify(c).slice(0, 80)} → ${JSON.stringify(d)}`);
        assert.notEqual(d.kind, 'allow', `${JSON.stringify(c).slice(0, 80)} was allowed`);
      }
    });

    it('keeps every secret out of the logs, its own and the chain’s', async () => {
      const factories = authenticatorFactories().register({ name: 'subject', params: z.object({}), create: () => s.create(logger) });
      const chain = await createAuthChain([{ subject: {} }], { logger, baseDir: '.', factories });
      try {
        for (const c of [s.good, ...s.bad, ...s.foreign]) await chain.authenticate(c, context);
      } finally {
        await chain.close();
      }
      const text = lines.join('\n');
      for (const c of [s.good, ...s.bad, ...s.foreign]) {
        const secret = secretOf(c);
        if (secret.length >= 4) assert.ok(!text.includes(secret), `a secret reached the logs:\n${text}`);
      }
    });
  });
}
