/**
 * Test harness for the `cri` backend: the shared TestImagegate (imagegate's
 * real gRPC server and ImageService on a temporary socket) with a
 * CriForwardBackend in front of a CRI endpoint (the CI's containerd, a relay
 * or a recorder), and a typed, promise-returning CRI client for imagegate's
 * socket and for containerd's own.
 */
import * as grpc from '@grpc/grpc-js';
import type { PullCredentials } from '../../src/credentials/pull-credentials';
import { imageServiceClient } from '../../src/cri/client/connect';
import { CriForwardBackend } from '../../src/cri/cri/backend';
import { criProto } from '../../src/cri/proto';
import type { ImageServiceClient } from '../../src/generated/runtime/v1/ImageService';
import { TestImagegate } from './cri-server';

type Unary = 'listImages' | 'imageStatus' | 'pullImage' | 'removeImage' | 'imageFsInfo';
type RequestOf<K extends Unary> = Parameters<ImageServiceClient[K]>[0];
type ResponseOf<K extends Unary> = Parameters<Extract<Parameters<ImageServiceClient[K]>[1], (...args: never[]) => unknown>>[1];

/** A CRI ImageService client whose unary calls return typed promises; errors are grpc ServiceErrors. */
export class CriTestClient {
  readonly raw: ImageServiceClient;

  constructor(endpoint: string) {
    this.raw = imageServiceClient(endpoint);
  }

  call<K extends Unary>(rpc: K, request: RequestOf<K>, options: grpc.CallOptions = {}): Promise<NonNullable<ResponseOf<K>>> {
    return new Promise((resolve, reject) => {
      const method = this.raw[rpc] as unknown as (
        req: unknown,
        metadata: grpc.Metadata,
        options: grpc.CallOptions,
        cb: (err: grpc.ServiceError | null, res?: unknown) => void,
      ) => grpc.ClientUnaryCall;
      method.call(this.raw, request, new grpc.Metadata(), options, (err, res) => (err ? reject(err) : resolve(res as NonNullable<ResponseOf<K>>)));
    });
  }

  /** Sends pre-encoded PullImageRequest bytes, as kubelet's client would put them on the wire. */
  pullRaw(bytes: Buffer, options: grpc.CallOptions = {}): Promise<{ imageRef: string }> {
    const pull = criProto().runtime.v1.ImageService.service.PullImage;
    return new Promise((resolve, reject) => {
      this.raw.makeUnaryRequest(pull.path, (b: Buffer) => b, pull.responseDeserialize, bytes, new grpc.Metadata(), options, (err, res) =>
        err ? reject(err) : resolve(res as { imageRef: string }),
      );
    });
  }

  close(): void {
    this.raw.close();
  }
}

/** imagegate's image service with the `cri` backend forwarding to `endpoint`, and a typed client for it. */
export class ForwardingImagegate {
  private constructor(
    readonly gate: TestImagegate,
    readonly client: CriTestClient,
  ) {}

  static async start(endpoint: string, options: { credentials?: PullCredentials } = {}): Promise<ForwardingImagegate> {
    const backend = new CriForwardBackend({ endpoint, maxReconnectBackoffMs: 500 });
    const gate = await TestImagegate.start(backend, { credentials: options.credentials, gracePeriodMs: 1000 });
    return new ForwardingImagegate(gate, new CriTestClient(gate.endpoint));
  }

  async stop(): Promise<void> {
    this.client.close();
    await this.gate.stop();
  }
}

/** Retries `attempt` until it resolves, at most `tries` times `everyMs` apart; rethrows the last error. */
export async function eventually<T>(attempt: () => Promise<T>, tries = 40, everyMs = 250): Promise<T> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      return await attempt();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
  throw last;
}
