import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../log/logger';
import { CriError, toCallStatus } from '../errors';
import type { CallContext } from '../image-backend';
import type { RpcMetrics } from './metrics';

/** What every wrapped handler shares: where unexpected errors are logged and where calls are counted. */
export interface AdapterDeps {
  logger: Logger;
  metrics: RpcMetrics;
}

type ServerCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

/**
 * Wraps an async unary handler: awaits it, maps any error once (src/cri/errors.ts),
 * answers exactly once, and records the call's metrics. The handler gets a
 * CallContext whose signal aborts on client cancel or deadline.
 */
export function unary<Req, Res>(rpc: string, deps: AdapterDeps, handler: (request: Req, ctx: CallContext) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const scope = openScope(rpc, deps, call as ServerCall);
    let answered = false;
    Promise.resolve()
      .then(() => handler(call.request, scope.ctx))
      .then(
        (response) => {
          if (answered) return;
          answered = true;
          scope.finish(grpc.status.OK);
          callback(null, response);
        },
        (err: unknown) => {
          if (answered) return;
          answered = true;
          const { code, details } = scope.fail(err);
          callback({ code, details, name: 'CriError', message: details });
        },
      );
  };
}

/**
 * Wraps an async server-streaming handler the same way. `send` writes one
 * message and waits while the client is slow to read.
 */
export function serverStream<Req, Res>(
  rpc: string,
  deps: AdapterDeps,
  handler: (request: Req, ctx: CallContext, send: (message: Res) => Promise<void>) => Promise<void>,
): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    const scope = openScope(rpc, deps, call as ServerCall);
    const send = async (message: Res): Promise<void> => {
      if (scope.ctx.signal.aborted) throw scope.ctx.signal.reason;
      if (!call.write(message)) await new Promise<void>((resolve) => call.once('drain', resolve));
    };
    Promise.resolve()
      .then(() => handler(call.request, scope.ctx, send))
      .then(
        () => {
          scope.finish(grpc.status.OK);
          call.end();
        },
        (err: unknown) => {
          const { code, details } = scope.fail(err);
          call.emit('error', { code, details, name: 'CriError', message: details });
        },
      );
  };
}

function openScope(rpc: string, deps: AdapterDeps, call: ServerCall) {
  const started = process.hrtime.bigint();
  const controller = new AbortController();
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  let timer: NodeJS.Timeout | undefined;
  if (Number.isFinite(deadlineMs)) {
    timer = setTimeout(() => controller.abort(CriError.deadlineExceeded()), Math.max(0, deadlineMs - Date.now()));
  }
  const onCancelled = () => controller.abort(Date.now() >= deadlineMs ? CriError.deadlineExceeded() : CriError.cancelled());
  call.on('cancelled', onCancelled);
  if (call.cancelled) onCancelled();
  const ctx: CallContext = { signal: controller.signal, deadline: Number.isFinite(deadlineMs) ? new Date(deadlineMs) : undefined };

  const finish = (code: grpc.status) => {
    clearTimeout(timer);
    call.removeListener('cancelled', onCancelled);
    deps.metrics.observe(rpc, code, Number(process.hrtime.bigint() - started) / 1e9);
  };
  const fail = (err: unknown) => {
    const result = toCallStatus(err, controller.signal);
    if (!result.expected) deps.logger.error('unexpected error in CRI call', { rpc, error: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) });
    else deps.logger.debug('CRI call failed', { rpc, code: grpc.status[result.code], details: result.details });
    finish(result.code);
    return result;
  };
  return { ctx, finish, fail };
}
