import { z } from 'zod';
import { duration } from '../../../config/duration';
import type { AuthDecision, Authenticator, AuthenticatorEnv, AuthenticatorFactory, ClientCredentials } from '../authenticator';
import { claimMappingSchema, identityFrom } from './claims';
import { postToBackend } from './http';
import { secretString, trustedUrl } from './options';

/** The options of this authenticator (docs/configuration.md checks its keys against them). */
export const schema = z.strictObject({
  /** The RFC 7662 introspection endpoint (https, or http on loopback). */
  url: trustedUrl(),
  /** This facade's client at the authorization server (HTTP Basic to the endpoint). */
  clientId: z.string().min(1),
  clientSecret: secretString(),
  /** Only Basic logins with this user name are treated as tokens (e.g. `oauth2accesstoken`); others abstain. Default: any. */
  username: z.string().min(1).optional(),
  /** When set, the token's `aud` must contain one of these. */
  audience: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
  /** Deadline for the introspection call; timeout → deny. Default 5s. */
  timeout: duration('5s'),
  /** Identity from the answer's fields. Default name: sub, then username, then client_id; groups: groups. */
  claims: claimMappingSchema({ name: ['sub', 'username', 'client_id'], groups: ['groups'] }),
});

/**
 * `oauth2-introspection`: asks an authorization server about an opaque token
 * (the bearer token, or the Basic password) with an RFC 7662 POST.
 * `active: false`, a wrong audience, an error status or a timeout → deny.
 */
export const introspectionAuthenticator: AuthenticatorFactory<Params> = { name: 'oauth2-introspection', params: schema, create: createIntrospection };

type Params = z.output<typeof schema>;

function createIntrospection(o: Params, env: AuthenticatorEnv) {
  const audiences = o.audience === undefined ? undefined : [o.audience].flat();
  const basic = Buffer.from(`${encodeURIComponent(o.clientId)}:${encodeURIComponent(o.clientSecret.reveal())}`).toString('base64');
  return {
    name: env.name,
    async authenticate(credentials: ClientCredentials): Promise<AuthDecision> {
      if (credentials.kind === 'basic' && o.username !== undefined && credentials.username !== o.username) return { kind: 'abstain' };
      const token = credentials.kind === 'basic' ? credentials.password.reveal() : credentials.token.reveal();
      if (token === '') return { kind: 'deny', reason: 'empty token' };
      let answer;
      try {
        const body = new URLSearchParams({ token, token_type_hint: 'access_token' }).toString();
        answer = await postToBackend(o.url, body, { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` }, o.timeout);
      } catch (err) {
        env.logger.warn('introspection endpoint unavailable', { url: o.url, error: (err as Error).message });
        return { kind: 'deny', reason: 'introspection endpoint unavailable' };
      }
      if (answer.status !== 200 || answer.json === null || typeof answer.json !== 'object') {
        return { kind: 'deny', reason: `introspection answered ${answer.status}` };
      }
      const info = answer.json as Record<string, unknown>;
      if (info.active !== true) return { kind: 'deny', reason: 'token not active' };
      if (typeof info.exp === 'number' && info.exp * 1000 < Date.now()) return { kind: 'deny', reason: 'token expired' };
      if (audiences && ![info.aud].flat().some((a) => typeof a === 'string' && audiences.includes(a))) {
        return { kind: 'deny', reason: 'token for another audience' };
      }
      const identity = identityFrom(info, o.claims);
      if (!identity) return { kind: 'deny', reason: 'introspection answer names nobody' };
      return { kind: 'allow', identity: { ...identity, authenticator: env.name } };
    },
    async close() {},
  } satisfies Authenticator;
}
