import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Socket } from 'node:net';
import type { Logger } from '../../log/logger';
import { RegistryError, statusFor } from '../errors';

/**
 * The one place errors become HTTP responses: a RegistryError is written as
 * `{"errors":[{code, message, detail}]}` with its status and headers; a body
 * too large is SIZE_INVALID; anything else is logged and answered with a
 * generic UNKNOWN 500 that says nothing about the cause. When the response
 * has already started (a blob stream broke), the connection is cut. Body
 * parser errors are the client's (400, or 405 UNSUPPORTED for an unreadable
 * encoding); a client that went away is logged at debug, without a stack.
 */
export function errorBoundary(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (clientWentAway(err, req.socket)) {
      logger.debug('client went away', { method: req.method, path: req.path.slice(0, 300), error: (err as Error)?.message });
      res.destroy();
      return;
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const error = toRegistryError(err, logger, req.method, req.path, res.locals.requestId as string | undefined);
    res.status(statusFor(error, req.get('user-agent')));
    for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
    const requestId = res.locals.requestId as string | undefined;
    const detail = requestId && isPlainObject(error.detail) ? { ...error.detail, requestId } : (error.detail ?? null);
    const body = JSON.stringify({ errors: [{ code: error.code, message: error.message, detail }] });
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.setHeader('content-length', Buffer.byteLength(body));
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

/** Answers every path that is not part of the facade. */
export const notFound: RequestHandler = (_req, _res, next) => {
  next(new RegistryError('NAME_UNKNOWN', 'not found'));
};

function toRegistryError(err: unknown, logger: Logger, method: string, path: string, requestId: string | undefined): RegistryError {
  if (err instanceof RegistryError) return err;
  const type = (err as { type?: unknown })?.type;
  const status = (err as { status?: unknown })?.status;
  if (type === 'entity.too.large') return new RegistryError('SIZE_INVALID', 'request body too large');
  if (type === 'parameters.too.many') return new RegistryError('SIZE_INVALID', 'too many form fields');
  if (type === 'request.size.invalid') return new RegistryError('SIZE_INVALID', 'request body shorter or longer than its Content-Length');
  if (typeof type === 'string' && typeof status === 'number' && status >= 400 && status < 500) return new RegistryError('UNSUPPORTED', 'unreadable request body');
  logger.error('request failed', { method, path: path.slice(0, 300), requestId, error: (err as Error)?.message, stack: (err as Error)?.stack });
  return new RegistryError('UNKNOWN', 'internal error');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const GONE = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

/** A client that aborted its request (body cut short, connection closed): nothing to answer, nothing to alarm anyone about. */
function clientWentAway(err: unknown, socket: Socket | null): boolean {
  const e = err as { type?: unknown; code?: unknown } | undefined;
  if (e?.type === 'request.aborted') return true;
  return typeof e?.code === 'string' && GONE.has(e.code) && (!socket || socket.destroyed);
}
