import { Client, InvalidCredentialsError } from 'ldapts';
import { z } from 'zod';
import { duration } from '../../../config/duration';
import type { Secret } from '../../../log/secret';
import type { AuthDecision, Authenticator, AuthenticatorEnv, AuthenticatorFactory, ClientCredentials } from '../authenticator';
import { fillFilter, plausibleUsername } from './ldap-filter';
import { isLoopbackHost, secretString } from './options';

/** The options of this authenticator (docs/configuration.md checks its keys against them). */
export const schema = z
  .strictObject({
    /** `ldaps://host:636`, or `ldap://` with `startTls: true` (plain `ldap://` only on loopback). */
    url: z.string().regex(/^ldaps?:\/\/[^/]+\/?$/, 'must be ldap://host:port or ldaps://host:port'),
    /** Upgrade an `ldap://` connection with StartTLS. Default false. */
    startTls: z.boolean().default(false),
    /** The service account that searches for users. */
    bindDN: z.string().min(1),
    bindPassword: secretString(),
    /** Where users are searched (subtree). */
    userBase: z.string().min(1),
    /** `{username}` is replaced by the escaped user name. Default `(uid={username})`. */
    userFilter: z.string().includes('{username}', { message: 'must contain {username}' }).default('(uid={username})'),
    /** Attribute that becomes the identity name. Default `uid`. */
    nameAttribute: z.string().default('uid'),
    /** Attributes copied into the identity's claims. Default `cn`, `mail`. */
    attributes: z.array(z.string()).default(['cn', 'mail']),
    /** Where groups are searched (subtree); no groups when absent. */
    groupBase: z.string().min(1).optional(),
    /** `{dn}` is the user's DN, `{username}` the user name, both escaped. Default `(member={dn})`. */
    groupFilter: z.string().default('(member={dn})'),
    /** Attribute of a group entry that names it. Default `cn`. */
    groupNameAttribute: z.string().default('cn'),
    /** Per operation and connect timeout. Default 5s. */
    timeout: duration('5s'),
  })
  .superRefine((o, ctx) => {
    const host = o.url.replace(/^ldaps?:\/\//, '').replace(/:\d+\/?$|\/$/, '');
    if (o.url.startsWith('ldap://') && !o.startTls && !isLoopbackHost(host)) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'plain ldap:// needs startTls: true unless the host is loopback' });
    }
  });

type Options = z.output<typeof schema>;

/**
 * `ldap`: binds as the service account, finds the user by the escaped name,
 * binds as the found DN with the given password, then reads group membership.
 * User not found → abstain; wrong or empty password (no anonymous bind) →
 * deny; names with filter syntax → deny; directory unreachable → deny.
 */
export const ldapAuthenticator: AuthenticatorFactory<Params> = { name: 'ldap', params: schema, create: createLdap };

type Params = z.output<typeof schema>;

function createLdap(o: Params, env: AuthenticatorEnv) {
  return {
    name: env.name,
    async authenticate(credentials: ClientCredentials): Promise<AuthDecision> {
      if (credentials.kind !== 'basic' || credentials.username === '') return { kind: 'abstain' };
      if (!plausibleUsername(credentials.username)) return { kind: 'deny', reason: 'user name has characters no directory account has' };
      if (credentials.password.isEmpty()) return { kind: 'deny', reason: 'empty password' };
      try {
        return await check(o, credentials.username, credentials.password, env.name);
      } catch (err) {
        env.logger.warn('directory unavailable', { url: o.url, error: (err as Error).message });
        return { kind: 'deny', reason: 'directory unavailable' };
      }
    },
    async close() {},
  } satisfies Authenticator;
}

async function check(o: Options, username: string, password: Secret, authenticator: string): Promise<AuthDecision> {
  const service = await connect(o);
  try {
    await service.bind(o.bindDN, o.bindPassword.reveal());
    const { searchEntries } = await service.search(o.userBase, {
      scope: 'sub',
      filter: fillFilter(o.userFilter, { username }),
      attributes: [o.nameAttribute, ...o.attributes],
      sizeLimit: 2,
    });
    if (searchEntries.length === 0) return { kind: 'abstain' };
    if (searchEntries.length > 1) return { kind: 'deny', reason: 'user name matches several directory entries' };
    const entry = searchEntries[0];
    if (!(await bindsAs(o, entry.dn, password))) return { kind: 'deny', reason: 'wrong password' };
    const groups = o.groupBase ? await groupsOf(service, o, entry.dn, username) : [];
    const claims: Record<string, unknown> = { dn: entry.dn };
    for (const a of o.attributes) if (entry[a] !== undefined) claims[a] = text(entry[a]);
    const name = text(entry[o.nameAttribute]);
    return { kind: 'allow', identity: { name: typeof name === 'string' && name ? name : username, groups, claims, authenticator } };
  } finally {
    await service.unbind().catch(() => undefined);
  }
}

async function bindsAs(o: Options, dn: string, password: Secret): Promise<boolean> {
  const user = await connect(o);
  try {
    await user.bind(dn, password.reveal());
    return true;
  } catch (err) {
    if (err instanceof InvalidCredentialsError) return false;
    throw err;
  } finally {
    await user.unbind().catch(() => undefined);
  }
}

async function groupsOf(service: Client, o: Options, dn: string, username: string): Promise<string[]> {
  const { searchEntries } = await service.search(o.groupBase!, {
    scope: 'sub',
    filter: fillFilter(o.groupFilter, { dn, username }),
    attributes: [o.groupNameAttribute],
    sizeLimit: 1000,
  });
  return searchEntries.map((e) => text(e[o.groupNameAttribute])).filter((g): g is string => typeof g === 'string' && g !== '');
}

async function connect(o: Options): Promise<Client> {
  const client = new Client({ url: o.url, timeout: o.timeout, connectTimeout: o.timeout });
  if (o.startTls) await client.startTLS();
  return client;
}

function text(value: Buffer | Buffer[] | string[] | string | undefined): string | string[] | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value.length === 1 ? String(value[0]) : value.map(String);
  return String(value);
}
