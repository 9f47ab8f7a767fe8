import { z } from 'zod';
import { duration } from '../../../config/duration';
import type { AuthDecision, Authenticator, AuthenticatorEnv, AuthenticatorFactory, ClientCredentials, AuthContext } from '../authenticator';
import { postToBackend } from './http';
import { secretString, trustedUrl } from './options';

/** The options of this authenticator (docs/configuration.md checks its keys against them). */
export const schema = z.strictObject({
  /** Where the credentials are POSTed (https, or http on loopback). */
  url: trustedUrl(),
  /** Deadline for the whole call; no answer in time → deny. Default 5s. */
  timeout: duration('5s'),
  /** Extra request headers, e.g. a shared secret in `authorization`; values are never logged. */
  headers: z.record(z.string(), secretString()).default({}),
});

const answerSchema = z.object({
  identity: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
  groups: z.array(z.string()).default([]),
  claims: z.record(z.string(), z.unknown()).default({}),
});

/**
 * `webhook`: POSTs the credentials as JSON to an external service —
 * `{"kind":"basic","username","password"}` or `{"kind":"bearer","token"}`,
 * plus `clientIp` and `repository`. 200 with `{identity|name, groups?,
 * claims?}` → allow; any other status, a malformed 200, an error or a
 * timeout → deny.
 */
export const webhookAuthenticator: AuthenticatorFactory<Params> = { name: 'webhook', params: schema, create: createWebhook };

type Params = z.output<typeof schema>;

function createWebhook(o: Params, env: AuthenticatorEnv) {
  return {
    name: env.name,
    async authenticate(credentials: ClientCredentials, context: AuthContext): Promise<AuthDecision> {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      for (const [k, v] of Object.entries(o.headers)) headers[k] = v.reveal();
      let answer;
      try {
        answer = await postToBackend(o.url, JSON.stringify(requestBody(credentials, context)), headers, o.timeout);
      } catch (err) {
        const timedOut = (err as Error).name === 'TimeoutError';
        env.logger.warn(timedOut ? 'webhook timed out' : 'webhook unreachable', { url: o.url, error: (err as Error).message });
        return { kind: 'deny', reason: timedOut ? 'webhook timed out' : 'webhook unreachable' };
      }
      if (answer.status !== 200) return { kind: 'deny', reason: `webhook answered ${answer.status}` };
      const parsed = answerSchema.safeParse(answer.json);
      const name = parsed.success ? (parsed.data.identity ?? parsed.data.name) : undefined;
      if (!parsed.success || !name) return { kind: 'deny', reason: 'webhook answered 200 without an identity' };
      return { kind: 'allow', identity: { name, groups: parsed.data.groups, claims: parsed.data.claims, authenticator: env.name } };
    },
    async close() {},
  } satisfies Authenticator;
}

function requestBody(credentials: ClientCredentials, context: AuthContext) {
  const secret = credentials.kind === 'basic'
    ? { kind: 'basic', username: credentials.username, password: credentials.password.reveal() }
    : { kind: 'bearer', token: credentials.token.reveal() };
  return { ...secret, clientIp: context.clientIp, repository: context.repository };
}
