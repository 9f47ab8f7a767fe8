/** Why the proxy answered a request itself instead of relaying the upstream's answer. */
export type OutboundErrorKind = 'no-route' | 'bad-route' | 'not-allowed' | 'token' | 'timeout' | 'upstream' | 'internal';

/** Status and body for each kind: the one table the transport boundary writes from. */
const TABLE: Record<OutboundErrorKind, { status: number; body: string }> = {
  'no-route': { status: 400, body: 'missing upstream host header' },
  'bad-route': { status: 400, body: 'invalid upstream host' },
  'not-allowed': { status: 403, body: 'upstream host not allowed' },
  token: { status: 502, body: 'token unavailable' },
  timeout: { status: 504, body: 'upstream timeout' },
  upstream: { status: 502, body: 'upstream unavailable' },
  internal: { status: 500, body: 'internal error' },
};

/**
 * A failure the proxy answers with its own status. `status` and `body` come
 * from one table; `detail` is for the log only (it may name a host or an AWS
 * error, never a token) and is never sent to the client.
 */
export class OutboundError extends Error {
  override readonly name = 'OutboundError';
  readonly status: number;
  readonly body: string;

  constructor(
    readonly kind: OutboundErrorKind,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${TABLE[kind].body}: ${detail}`, options);
    this.status = TABLE[kind].status;
    this.body = TABLE[kind].body;
  }
}

/**
 * Maps anything thrown while forwarding to an OutboundError. Recognised: an
 * OutboundError, and a system or network error (one with a `code`, e.g.
 * ECONNREFUSED, ETIMEDOUT, a TLS failure), which is an upstream failure.
 * Anything else is a bug (a TypeError…): `internal`, a generic 500 whose cause
 * the boundary logs with its stack at error level.
 */
export function toOutboundError(err: unknown): OutboundError {
  if (err instanceof OutboundError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ETIMEDOUT') return new OutboundError('timeout', e.message);
  if (typeof e?.code === 'string') return new OutboundError('upstream', `${e.code}: ${e.message}`);
  return new OutboundError('internal', String(e?.message ?? err), { cause: err });
}

/** What the boundary logs about a failure: the detail, and for an `internal` one the level `error` and the cause's stack. */
export function logFields(err: OutboundError): { level: 'error' | 'warn' | 'info'; stack?: string } {
  if (err.kind === 'internal') return { level: 'error', stack: (err.cause as Error | undefined)?.stack ?? err.stack };
  return { level: err.kind === 'token' || err.kind === 'upstream' || err.kind === 'timeout' ? 'warn' : 'info' };
}
