/**
 * Credentials could not be had for a pull: AWS refused, a file is unreadable,
 * a registry host is not what a provider serves. The message names the cause
 * (never a secret) and is shown to kubelet; `code` is the AWS error code when
 * AWS answered, else `transport` or `local`.
 */
export class CredentialError extends Error {
  override readonly name = 'CredentialError';

  constructor(
    readonly provider: string,
    message: string,
    readonly code = 'local',
    options?: { cause?: unknown },
  ) {
    super(`${provider}: ${message}`, options);
  }
}

/** The AWS error code of an SDK error (`AccessDenied`, `ThrottlingException` …), or `transport` when AWS never answered. */
export function awsErrorCode(err: unknown): string {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number }; code?: string } | undefined;
  if (e instanceof CredentialError) return e.code;
  if (e?.$metadata?.httpStatusCode) return e.Code ?? e.name ?? 'unknown';
  if (typeof e?.code === 'string' && /^E[A-Z]+/.test(e.code)) return 'transport';
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'transport';
  return e?.name && e.name !== 'Error' ? e.name : 'unknown';
}

/** One line about an SDK error, for messages: `AccessDenied: <AWS's message>`. */
export function awsErrorText(err: unknown): string {
  const code = awsErrorCode(err);
  const message = (err as Error | undefined)?.message ?? String(err);
  if (code === 'transport') return `AWS is not reachable (${message})`;
  return code === 'unknown' ? message : `${code}: ${message}`;
}
