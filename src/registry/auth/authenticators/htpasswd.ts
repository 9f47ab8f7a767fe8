import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { stat, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { duration } from '../../../config/duration';
import { ConfigError } from '../../../config/errors';
import { SingleFlight } from '../../../lib/single-flight';
import type { Logger } from '../../../log/logger';
import type { AuthDecision, Authenticator, AuthenticatorEnv, AuthenticatorFactory, ClientCredentials } from '../authenticator';
import { bcryptHash, bcryptMatches, isBcryptHash } from './compare';

/** The options of this authenticator (docs/configuration.md checks its keys against them). */
export const schema = z.strictObject({
  /** The htpasswd file (bcrypt entries only, `htpasswd -B`); relative to the config file. */
  file: z.string().min(1),
  /** How often, at most, the file's mtime is checked for changes. Default 1s. */
  reloadInterval: duration('1s'),
  /** Groups by name, each a list of user names, e.g. `{developers: [alice, bob]}`. Default none. */
  groups: z.record(z.string(), z.array(z.string())).default({}),
});

/**
 * `htpasswd`: users from an Apache htpasswd file with bcrypt hashes. The file
 * is re-read when it changes (checked at most every `reloadInterval`); a
 * broken new version is logged and the last good one kept. Unknown user →
 * abstain, after checking the password against a stand-in hash of the same
 * cost, so that the answer's timing does not tell which users exist; wrong
 * password → deny; bearer tokens → abstain.
 */
export const htpasswdAuthenticator: AuthenticatorFactory<Params> = { name: 'htpasswd', params: schema, create: createHtpasswd };

type Params = z.output<typeof schema>;

function createHtpasswd(o: Params, env: AuthenticatorEnv) {
  const file = resolve(env.baseDir, o.file);
  let users: Map<string, string>;
  let version: string;
  try {
    users = parseHtpasswd(readFileSync(file, 'utf8'));
    version = fileVersion(statSync(file));
  } catch (err) {
    throw new ConfigError(`${env.configPath}.file`, `${file}: ${(err as Error).message}`);
  }
  const groupsOf = invert(o.groups);
  let standIn: { cost: number; hash: Promise<string> } | undefined;
  /** A hash of a random password at the cost of the file's first entry (bcrypt's default, 10, for an empty file). */
  const standInHash = () => {
    const cost = Number(/^\$2[abxy]?\$(\d{2})\$/.exec(users.values().next().value ?? '')?.[1] ?? 10);
    if (standIn?.cost !== cost) standIn = { cost, hash: bcryptHash(randomBytes(16).toString('hex'), cost) };
    return standIn.hash;
  };
  let checkedAt = Date.now();
  const reloads = new SingleFlight<void>();

  async function reloadIfChanged(logger: Logger): Promise<void> {
    if (Date.now() - checkedAt < o.reloadInterval) return;
    checkedAt = Date.now();
    try {
      const now = fileVersion(await stat(file));
      if (now === version) return;
      users = parseHtpasswd(await readFile(file, 'utf8'));
      version = now;
      logger.info('htpasswd file reloaded', { file, users: users.size });
    } catch (err) {
      logger.error('htpasswd file could not be reloaded; keeping the last good version', { file, error: (err as Error).message });
    }
  }

  return {
    name: env.name,
    async authenticate(credentials: ClientCredentials): Promise<AuthDecision> {
      if (credentials.kind !== 'basic') return { kind: 'abstain' };
      await reloads.run('file', () => reloadIfChanged(env.logger));
      const hash = users.get(credentials.username);
      if (hash === undefined) {
        await bcryptMatches(credentials.password.reveal(), await standInHash()).catch(() => false);
        return { kind: 'abstain' };
      }
      if (!(await bcryptMatches(credentials.password.reveal(), hash).catch(() => false))) return { kind: 'deny', reason: 'wrong password' };
      const groups = groupsOf.get(credentials.username) ?? [];
      return { kind: 'allow', identity: { name: credentials.username, groups, claims: {}, authenticator: env.name } };
    },
    async close() {},
  } satisfies Authenticator;
}

/** Parses `user:hash` lines; blank lines and `#` comments are skipped; a non-bcrypt hash is an error naming its line. */
export function parseHtpasswd(text: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`line ${i + 1}: expected user:hash`);
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (!isBcryptHash(hash)) throw new Error(`line ${i + 1}: user "${user}" has no bcrypt hash (create entries with htpasswd -B)`);
    users.set(user, hash);
  }
  return users;
}

function fileVersion(s: { mtimeMs: number; size: number; ino: number }): string {
  return `${s.mtimeMs}:${s.size}:${s.ino}`;
}

function invert(groups: Record<string, string[]>): Map<string, string[]> {
  const byUser = new Map<string, string[]>();
  for (const [group, members] of Object.entries(groups)) {
    for (const user of members) byUser.set(user, [...(byUser.get(user) ?? []), group]);
  }
  return byUser;
}
