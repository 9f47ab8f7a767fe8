import * as grpc from '@grpc/grpc-js';
import type { CallContext } from '../image-backend';
import { CriError } from '../errors';
import type { CriEndpoint } from './endpoint';

/** Largest answer accepted from the runtime; kubelet's own client allows 16 MiB. */
const MAX_RECEIVE_BYTES = 16 * 1024 * 1024;

export interface ConnectionOptions {
  /**
   * Longest wait between reconnection attempts after the runtime went away.
   * Default 1000 ms: the runtime is on the same node, so it is worth noticing
   * quickly that it is back.
   */
  maxReconnectBackoffMs?: number;
}

/** How one RPC's messages go to and come from bytes. */
export interface Codec<Req, Res> {
  serialize: (request: Req) => Buffer;
  deserialize: (bytes: Buffer) => Res;
}

/**
 * One gRPC channel to a runtime's CRI image service. It connects on the first
 * call and reconnects by itself; while the runtime is down every call fails
 * at once with UNAVAILABLE naming the endpoint (never waitForReady), because
 * kubelet retries. The caller's deadline and cancellation reach the runtime's
 * call. Safe for concurrent calls; `close()` once.
 */
export class CriConnection {
  #client: grpc.Client | undefined;
  #closed = false;

  constructor(
    readonly endpoint: CriEndpoint,
    private readonly options: ConnectionOptions = {},
  ) {}

  /** Sends one unary call to `path` (e.g. `/runtime.v1.ImageService/ListImages`). Rejects with a CriError. */
  unary<Req, Res>(path: string, codec: Codec<Req, Res>, request: Req, ctx: CallContext): Promise<Res> {
    if (this.#closed) return Promise.reject(CriError.unavailable(`the connection to ${this.endpoint.display} is closed`));
    if (ctx.signal.aborted) return Promise.reject(abortReason(ctx.signal));
    const client = this.#channel();
    const callOptions: grpc.CallOptions = ctx.deadline ? { deadline: ctx.deadline } : {};
    return new Promise<Res>((resolve, reject) => {
      const onAbort = () => call.cancel();
      const call = client.makeUnaryRequest(path, codec.serialize, codec.deserialize, request, new grpc.Metadata(), callOptions, (err, response) => {
        ctx.signal.removeEventListener('abort', onAbort);
        if (err) reject(ctx.signal.aborted ? abortReason(ctx.signal) : this.#toCriError(err));
        else resolve(response as Res);
      });
      ctx.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Closes the channel; later calls fail with UNAVAILABLE. */
  close(): void {
    this.#closed = true;
    this.#client?.close();
    this.#client = undefined;
  }

  #channel(): grpc.Client {
    this.#client ??= new grpc.Client(this.endpoint.target, grpc.credentials.createInsecure(), {
      'grpc.default_authority': 'localhost',
      'grpc.max_receive_message_length': MAX_RECEIVE_BYTES,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': this.options.maxReconnectBackoffMs ?? 1000,
    });
    return this.#client;
  }

  /** The runtime's status is kept (its message is what kubelet shows), except that UNAVAILABLE names the endpoint. */
  #toCriError(err: grpc.ServiceError): CriError {
    if (err.code === grpc.status.UNAVAILABLE) {
      return CriError.unavailable(`CRI image service at ${this.endpoint.display} is unavailable: ${err.details}`, err);
    }
    if (err.code === grpc.status.DEADLINE_EXCEEDED) return CriError.deadlineExceeded();
    return new CriError(err.code, err.details || `CRI image service at ${this.endpoint.display} answered ${grpc.status[err.code]}`, undefined, {
      cause: err,
    });
  }
}

function abortReason(signal: AbortSignal): CriError {
  return signal.reason instanceof CriError ? signal.reason : CriError.cancelled();
}
