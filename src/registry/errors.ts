/**
 * The OCI distribution error codes the facade answers with, and the HTTP
 * status each one maps to. This table is the only place a code meets a status.
 */
export const ERROR_STATUS = {
  BLOB_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  SIZE_INVALID: 400,
  RANGE_INVALID: 416,
  UNAVAILABLE: 503,
  UNKNOWN: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Extra response headers an error carries (`WWW-Authenticate`, `Retry-After`, `Allow`). */
export type ErrorHeaders = Record<string, string>;

/**
 * A failure the client is told about, in the OCI `{"errors":[…]}` format.
 * Thrown anywhere in the facade; written once by the error boundary
 * (http/error-boundary.ts). `message` and `detail` reach the client, so they
 * must never hold a secret or an internal detail.
 */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly detail?: unknown,
    readonly headers: ErrorHeaders = {},
  ) {
    super(message);
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/**
 * The status an error is answered with for this client: the table's, except
 * that an upstream failure (UNAVAILABLE naming an upstream) goes to the Docker
 * Engine (User-Agent `docker/…`) as 424 Failed Dependency — the request
 * failed because the one it depended on did. Docker's pull prints an error
 * document's `message` only for a 4xx status (distribution's
 * `HandleErrorResponse`); for 503 it prints just `received unexpected HTTP
 * status: 503 Service Unavailable`, hiding why. Every other client keeps the
 * 503 that proxies in front (nginx `proxy_next_upstream http_503`), retrying
 * clients and dashboards read as "unavailable"; containerd shows no message
 * either way (it fails on the bodiless HEAD), so the reason is also logged
 * with the request id the response carries in `X-Request-Id`.
 */
export function statusFor(error: RegistryError, userAgent: string | undefined): number {
  const upstream = (error.detail as { upstream?: unknown } | undefined)?.upstream;
  if (error.code === 'UNAVAILABLE' && typeof upstream === 'string' && userAgent?.startsWith('docker/')) return 424;
  return error.status;
}

/** True when `code` is one of ours (used to keep an upstream's own error code). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_STATUS, code);
}
