import { z } from 'zod';
import { ConfigError } from '../../../config/errors';
import type { AuthDecision, Authenticator, AuthenticatorEnv, AuthenticatorFactory, ClientCredentials } from '../authenticator';
import { bcryptMatches, constantTimeEqual, isBcryptHash } from './compare';
import { secretString } from './options';

const user = z
  .strictObject({
    username: z.string().min(1),
    /** Plain password (prefer `bcrypt`); compared in constant time. */
    password: secretString().optional(),
    /** A bcrypt hash (`htpasswd -nbB user pw`, the part after the colon). */
    bcrypt: z.string().refine(isBcryptHash, 'not a bcrypt hash ($2a$/$2b$/$2y$)').optional(),
    groups: z.array(z.string()).default([]),
  })
  .refine((u) => (u.password === undefined) !== (u.bcrypt === undefined), 'give exactly one of password or bcrypt');

/** The options of this authenticator (docs/configuration.md checks its keys against them). */
export const schema = z.strictObject({
  users: z.array(user).min(1, 'needs at least one user'),
});

/**
 * `static`: users listed in the config, each with a bcrypt hash or a plain
 * password. Unknown user → abstain; wrong password → deny; bearer → abstain.
 */
export const listedUsersAuthenticator: AuthenticatorFactory<Params> = { name: 'static', params: schema, create: createListedUsers };

type Params = z.output<typeof schema>;

function createListedUsers(o: Params, env: AuthenticatorEnv) {
  const users = new Map(o.users.map((u) => [u.username, u]));
  if (users.size !== o.users.length) {
    const dup = o.users.findIndex((u, i) => o.users.findIndex((v) => v.username === u.username) !== i);
    throw new ConfigError(`${env.configPath}.users[${dup}].username`, `duplicate username "${o.users[dup].username}"`);
  }
  return {
    name: env.name,
    async authenticate(credentials: ClientCredentials): Promise<AuthDecision> {
      if (credentials.kind !== 'basic') return { kind: 'abstain' };
      const u = users.get(credentials.username);
      if (!u) return { kind: 'abstain' };
      const given = credentials.password.reveal();
      const ok = u.bcrypt ? await bcryptMatches(given, u.bcrypt).catch(() => false) : constantTimeEqual(given, u.password!.reveal());
      if (!ok) return { kind: 'deny', reason: 'wrong password' };
      return { kind: 'allow', identity: { name: u.username, groups: u.groups, claims: {}, authenticator: env.name } };
    },
    async close() {},
  } satisfies Authenticator;
}
