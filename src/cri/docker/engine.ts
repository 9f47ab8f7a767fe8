import Docker from 'dockerode';
import { parseEndpoint } from '../../lib/endpoint';
import { CriError } from '../errors';

/** Where Docker Engine listens: `unix:///var/run/docker.sock`, `tcp://127.0.0.1:2375`, or a bare socket path. */
export interface DockerEndpoint {
  /** As configured, for messages. */
  text: string;
  options: Docker.DockerOptions;
}

/** Parses `--docker-host` (the shared endpoint rules, lib/endpoint.ts). Returns undefined when it is not an endpoint. */
export function parseDockerHost(text: string): DockerEndpoint | undefined {
  try {
    const endpoint = parseEndpoint(text);
    if (endpoint.kind === 'unix') return { text, options: { socketPath: endpoint.path } };
    return { text, options: { host: endpoint.host, port: endpoint.port, protocol: 'http' } };
  } catch {
    return undefined;
  }
}

/** A dockerode client for the endpoint. */
export function connect(endpoint: DockerEndpoint): Docker {
  return new Docker(endpoint.options);
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** HTTP status of a Docker Engine API error, when the engine answered. */
export function statusOf(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** True for an error Docker Engine answered (an HTTP status, or an error line in a progress stream), as opposed to a bug or a local failure. */
export function isEngineAnswer(err: unknown): boolean {
  return statusOf(err) !== undefined || (err as { json?: unknown } | null)?.json !== undefined;
}

/** The engine's own message for an API error (dockerode puts the body in `json`). */
export function messageOf(err: unknown): string {
  const json = (err as { json?: unknown } | null)?.json;
  if (json && typeof json === 'object' && typeof (json as { message?: unknown }).message === 'string') return (json as { message: string }).message;
  if (typeof json === 'string' && json.trim()) {
    try {
      return (JSON.parse(json) as { message?: string }).message ?? json.trim();
    } catch {
      return json.trim();
    }
  }
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
}

/**
 * Maps an error from talking to Docker Engine: an abort becomes the signal's
 * reason (CANCELLED / DEADLINE_EXCEEDED); a connection failure becomes
 * UNAVAILABLE naming the endpoint. Anything else is returned unchanged for
 * the caller to interpret.
 */
export function engineError(err: unknown, endpoint: DockerEndpoint, signal?: AbortSignal): unknown {
  if (err instanceof CriError) return err;
  if (signal?.aborted) return signal.reason instanceof CriError ? signal.reason : CriError.cancelled();
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if ((code && CONNECTION_CODES.has(code)) || /socket hang up/.test(String((err as Error)?.message))) {
    return CriError.unavailable(`Docker Engine is unreachable at ${endpoint.text}: ${code ?? (err as Error).message}`, err);
  }
  return err;
}
