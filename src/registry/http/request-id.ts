import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import type { RequestHandler } from 'express';

const current = new AsyncLocalStorage<string>();
/** An id a client or proxy in front may pass on: short, and nothing a log reader could mistake for structure. */
const ACCEPTED = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Gives every request an id: the `X-Request-Id` a proxy in front sent (when
 * it is a short plain token), else a new random one. It is echoed in the
 * response's `X-Request-Id` and in an error's `detail.requestId`, and every
 * log line written while the request is handled can name it (`requestId()`),
 * so what `docker pull` printed can be found in the facade's log.
 */
export function requestIds(): RequestHandler {
  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && ACCEPTED.test(given) ? given : randomBytes(8).toString('hex');
    res.setHeader('x-request-id', id);
    res.locals.requestId = id;
    current.run(id, next);
  };
}

/** The id of the request being handled, or undefined outside one. */
export function requestId(): string | undefined {
  return current.getStore();
}
