import { status } from '@grpc/grpc-js';

/** Why a pull failed, when a caller needs to act on it (the image service moves on to the next credentials only on `credentials-rejected`). */
export type CriErrorReason = 'credentials-rejected' | 'registry-unavailable' | 'not-found' | 'no-progress';

/**
 * An error with the gRPC status the client should see. Backends and the image
 * service throw these; the gRPC adapter (src/cri/grpc/adapter.ts) maps them at
 * the one boundary. The message is sent to the client as is, so it must never
 * hold a secret.
 */
export class CriError extends Error {
  override readonly name = 'CriError';

  constructor(
    readonly code: status,
    message: string,
    readonly reason?: CriErrorReason,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static invalidArgument(message: string): CriError {
    return new CriError(status.INVALID_ARGUMENT, message);
  }

  static unavailable(message: string, cause?: unknown): CriError {
    return new CriError(status.UNAVAILABLE, message, undefined, { cause });
  }

  /** The registry could not be reached or answered 5xx; kubelet recognises the `RegistryUnavailable` prefix. */
  static registryUnavailable(registry: string, detail: string): CriError {
    return new CriError(status.UNKNOWN, `RegistryUnavailable: registry ${registry} is unavailable: ${detail}`, 'registry-unavailable');
  }

  /** The registry refused the credentials (or demanded some and none were sent). */
  static credentialsRejected(registry: string, detail: string): CriError {
    return new CriError(status.UNAUTHENTICATED, `credentials rejected by registry ${registry}: ${detail}`, 'credentials-rejected');
  }

  static notFound(message: string): CriError {
    return new CriError(status.NOT_FOUND, message, 'not-found');
  }

  static resourceExhausted(message: string): CriError {
    return new CriError(status.RESOURCE_EXHAUSTED, message);
  }

  static cancelled(): CriError {
    return new CriError(status.CANCELLED, 'the client cancelled the call');
  }

  static deadlineExceeded(): CriError {
    return new CriError(status.DEADLINE_EXCEEDED, 'the client deadline passed');
  }
}

/** What a client is told about a failed call. */
export interface CallStatus {
  code: status;
  details: string;
  /** False when the error was not a CriError: log it, it is a bug or an unexpected failure. */
  expected: boolean;
}

/**
 * The one mapping from anything thrown to a gRPC status: a CriError keeps its
 * code and message; an abort takes the signal's reason; anything else becomes
 * UNKNOWN with a generic message (the detail goes to the log, not the client).
 */
export function toCallStatus(err: unknown, signal?: AbortSignal): CallStatus {
  if (err instanceof CriError) return { code: err.code, details: err.message, expected: true };
  if (signal?.aborted && signal.reason instanceof CriError) {
    return { code: signal.reason.code, details: signal.reason.message, expected: true };
  }
  return { code: status.UNKNOWN, details: 'internal error in the image service (see its log)', expected: false };
}

/** Throws the signal's reason (a CriError) when it is aborted. */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof CriError ? signal.reason : CriError.cancelled();
}
