import { status } from '@grpc/grpc-js';
import type Docker from 'dockerode';
import { formatDuration } from '../../config/duration';
import type { RegistryAuth } from '../../credentials/registry-auth';
import { CriError } from '../errors';
import { repositoryOf, type ImageNameRef } from '../reference';
import { engineError, isEngineAnswer, messageOf, statusOf, type DockerEndpoint } from './engine';

/** One engine pull: the reference, credentials, the caller's signal and the progress timeout. */
export interface DockerPullOptions {
  docker: Docker;
  endpoint: DockerEndpoint;
  ref: ImageNameRef;
  auth?: RegistryAuth;
  signal: AbortSignal;
  /** Abort when the engine reports nothing for this long. */
  progressTimeoutMs: number;
}

/**
 * Pulls through Docker Engine's `/images/create`, sending the credentials as
 * `X-Registry-Auth`. Resolves when the engine reports the pull complete.
 * Rejects with CriError: the signal's reason on abort, `no-progress` after
 * the progress timeout, and registry failures classified by `pullError`.
 */
export async function dockerPull(options: DockerPullOptions): Promise<void> {
  const { ref, signal } = options;
  const local = new AbortController();
  const onAbort = () => local.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(
      () => local.abort(new CriError(status.ABORTED, `pull of ${describe(ref)} made no progress for ${formatDuration(options.progressTimeoutMs)}; aborted`, 'no-progress')),
      options.progressTimeoutMs,
    );
  };
  try {
    if (signal.aborted) throw signal.reason;
    arm();
    const stream = (await options.docker.createImage(dockerAuth(options.auth) as Docker.AuthConfig, {
      fromImage: repositoryOf(ref),
      tag: ref.digest ?? ref.tag ?? 'latest',
      abortSignal: local.signal,
    })) as NodeJS.ReadableStream;
    await follow(stream, local.signal, arm, ref);
  } catch (err) {
    if (local.signal.aborted) throw local.signal.reason;
    throw pullError(engineError(err, options.endpoint), ref);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

/** Reads the engine's JSON progress lines until the end; an `error` line fails the pull. */
function follow(stream: NodeJS.ReadableStream, signal: AbortSignal, onProgress: () => void, ref: ImageNameRef): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let failure: string | undefined;
    const stop = () => {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      reject(signal.reason);
    };
    if (signal.aborted) return stop();
    signal.addEventListener('abort', stop, { once: true });
    stream.on('data', (chunk: Buffer) => {
      onProgress();
      buffered += chunk.toString('utf8');
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (!line) continue;
        try {
          const event = JSON.parse(line) as { error?: string; errorDetail?: { message?: string } };
          if (event.error || event.errorDetail) failure ??= event.errorDetail?.message ?? event.error;
        } catch {
          // not JSON: ignore the line
        }
      }
    });
    stream.on('error', (err) => {
      signal.removeEventListener('abort', stop);
      reject(signal.aborted ? signal.reason : err);
    });
    let ended = false;
    stream.on('end', () => {
      ended = true;
      signal.removeEventListener('abort', stop);
      if (failure !== undefined) reject(pullError(Object.assign(new Error(failure), { json: { message: failure } }), ref));
      else resolve();
    });
    stream.on('close', () => {
      signal.removeEventListener('abort', stop);
      if (!ended) reject(signal.aborted ? signal.reason : Object.assign(new Error('the connection to Docker Engine closed during the pull'), { code: 'ECONNRESET' }));
    });
  });
}

const REJECTED = /no basic auth credentials|unauthorized|authentication required|pull access denied|denied: |401 unauthorized|403 forbidden|incorrect username or password/i;
const UNAVAILABLE = /dial tcp|connection refused|no such host|i\/o timeout|handshake timeout|connection reset|server misbehaving|unexpected EOF|received unexpected HTTP status: 5\d\d|\b50[0-4]\b|service unavailable|bad gateway|gateway timeout|toomanyrequests/i;

/**
 * Classifies a failed pull: rejected credentials (names the registry),
 * `RegistryUnavailable: …` for an unreachable registry or a 5xx, NOT_FOUND for
 * a missing tag or digest. Other engine errors become UNKNOWN with the engine's message;
 * an error the engine did not answer (a bug) is returned unchanged.
 */
export function pullError(err: unknown, ref: ImageNameRef): unknown {
  if (err instanceof CriError || !isEngineAnswer(err)) return err;
  const message = messageOf(err);
  if (REJECTED.test(message)) return CriError.credentialsRejected(ref.domain, message);
  if (UNAVAILABLE.test(message)) return CriError.registryUnavailable(ref.domain, message);
  if (statusOf(err) === 404 || /manifest unknown|not found/i.test(message)) return CriError.notFound(`image ${describe(ref)} not found: ${message}`);
  return new CriError(status.UNKNOWN, `pull of ${describe(ref)} failed: ${message}`);
}

/** Docker's registry auth JSON for X-Registry-Auth; undefined for an anonymous pull. Reveals the secrets. */
export function dockerAuth(auth: RegistryAuth | undefined): Record<string, string> | undefined {
  if (!auth) return undefined;
  const out: Record<string, string> = {};
  if (auth.username) out.username = auth.username;
  if (auth.password) out.password = auth.password.reveal();
  if (auth.serverAddress) out.serveraddress = auth.serverAddress;
  if (auth.identityToken) out.identitytoken = auth.identityToken.reveal();
  if (auth.registryToken) out.registrytoken = auth.registryToken.reveal();
  return Object.keys(out).length > 0 ? out : undefined;
}

function describe(ref: ImageNameRef): string {
  return `${repositoryOf(ref)}${ref.digest ? `@${ref.digest}` : `:${ref.tag ?? 'latest'}`}`;
}
