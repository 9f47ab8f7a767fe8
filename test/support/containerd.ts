/**
 * Test harness for the `cri` backend: imagegate's real gRPC server, with the
 * ImageService class and a CriForwardBackend, on a temporary Unix socket in
 * front of a CRI endpoint (the CI's containerd, a relay, or a recorder), and
 * small promise-returning CRI clients for imagegate's socket and for
 * containerd's own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { PullCredentials } from '../../src/credentials/pull-credentials';
import { CriForwardBackend } from '../../src/cri/forward/backend';
import { ImageService } from '../../src/cri/image-service';
import { criProto } from '../../src/cri/proto';
import { CriServer } from '../../src/cri/server';
import type { ImageServiceClient } from '../../src/generated/runtime/v1/ImageService';

type Unary = 'listImages' | 'imageStatus' | 'pullImage' | 'removeImage' | 'imageFsInfo';
type RequestOf<K extends Unary> = Parameters<ImageServiceClient[K]>[0];
type ResponseOf<K extends Unary> = Parameters<Extract<Parameters<ImageServiceClient[K]>[1], (...args: never[]) => unknown>>[1];

/** A CRI ImageService client whose unary calls return promises; errors are grpc ServiceErrors. */
export class CriTestClient {
  readonly raw: ImageServiceClient;

  constructor(target: string) {
    const Client = criProto().runtime.v1.ImageService;
    this.raw = new Client(target, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
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

/** imagegate's image service with the `cri` backend, running on a temporary socket. */
export class ForwardingImagegate {
  private constructor(
    readonly server: CriServer,
    readonly backend: CriForwardBackend,
    readonly client: CriTestClient,
    private readonly dir: string,
  ) {}

  static async start(endpoint: string, options: { credentials?: PullCredentials } = {}): Promise<ForwardingImagegate> {
    const dir = mkdtempSync(join(tmpdir(), 'imagegate-cri-'));
    const backend = new CriForwardBackend({ endpoint, maxReconnectBackoffMs: 500 });
    const service = new ImageService({ backend, credentials: options.credentials });
    const server = await CriServer.start({ socket: join(dir, 'imagegate.sock'), service, gracePeriodMs: 1000 });
    return new ForwardingImagegate(server, backend, new CriTestClient(`unix://${server.socket}`), dir);
  }

  async stop(): Promise<void> {
    this.client.close();
    await this.server.stop();
    rmSync(this.dir, { recursive: true, force: true });
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
