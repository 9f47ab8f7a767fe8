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

/** True when `code` is one of ours (used to keep an upstream's own error code). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_STATUS, code);
}
