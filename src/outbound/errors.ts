/** Why the proxy answered a request itself instead of relaying the upstream's answer. */
export type OutboundErrorKind = 'no-route' | 'bad-route' | 'not-allowed' | 'token' | 'timeout' | 'upstream';

/** Status and body for each kind: the one table the transport boundary writes from. */
const TABLE: Record<OutboundErrorKind, { status: number; body: string }> = {
  'no-route': { status: 400, body: 'missing upstream host header' },
  'bad-route': { status: 400, body: 'invalid upstream host' },
  'not-allowed': { status: 403, body: 'upstream host not allowed' },
  token: { status: 502, body: 'token unavailable' },
  timeout: { status: 504, body: 'upstream timeout' },
  upstream: { status: 502, body: 'upstream unavailable' },
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
  ) {
    super(`${TABLE[kind].body}: ${detail}`);
    this.status = TABLE[kind].status;
    this.body = TABLE[kind].body;
  }
}

/** Maps anything thrown while forwarding to an OutboundError; unknown errors are upstream failures. */
export function toOutboundError(err: unknown): OutboundError {
  if (err instanceof OutboundError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ETIMEDOUT') return new OutboundError('timeout', e.message);
  return new OutboundError('upstream', e?.code ? `${e.code}: ${e.message}` : String(e?.message ?? err));
}
