import * as grpc from '@grpc/grpc-js';
import type { ImageServiceClient } from '../../generated/runtime/v1/ImageService';
import { grpcTarget, parseEndpoint } from '../../lib/endpoint';
import type { HealthClient } from '../../generated/grpc/health/v1/Health';
import { criProto, healthProto } from '../proto';

/** Largest message a client accepts; kubelet uses 16 MiB too. */
const MAX_MESSAGE = 16 * 1024 * 1024;

/**
 * Turns an image endpoint into a grpc-js target: `unix:///run/x.sock`, a
 * bare `/run/x.sock`, or `tcp://host:port` (lib/endpoint.ts); anything else
 * throws an Error saying which forms are accepted.
 */
export function endpointTarget(endpoint: string): string {
  return grpcTarget(parseEndpoint(endpoint));
}

/** A runtime.v1.ImageService client for any CRI image endpoint (imagegate's, containerd's, CRI-O's). */
export function imageServiceClient(endpoint: string): ImageServiceClient {
  const Client = criProto().runtime.v1.ImageService;
  return new Client(endpointTarget(endpoint), grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': MAX_MESSAGE,
    'grpc.default_authority': 'localhost',
  });
}

/** A grpc.health.v1 client for the same endpoint. */
export function healthClient(endpoint: string): HealthClient {
  const Client = healthProto().grpc.health.v1.Health;
  return new Client(endpointTarget(endpoint), grpc.credentials.createInsecure(), { 'grpc.default_authority': 'localhost' });
}

/** Calls a unary method as a promise, with an optional deadline in milliseconds. */
export function call<Req, Res>(
  client: grpc.Client,
  method: string,
  request: Req,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const callOptions: grpc.CallOptions = options.timeoutMs !== undefined ? { deadline: Date.now() + options.timeoutMs } : {};
    const fn = (client as unknown as Record<string, Function>)[method].bind(client);
    const pending = fn(request, callOptions, (err: grpc.ServiceError | null, response: Res) => (err ? reject(err) : resolve(response)));
    options.signal?.addEventListener('abort', () => pending.cancel(), { once: true });
  });
}
