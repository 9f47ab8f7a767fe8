/**
 * A CRI image service on a temporary Unix socket that records the PullImage
 * request bytes exactly as they arrive, for the byte-for-byte forwarding test.
 * It answers PullImage with a fixed image ID and ImageStatus with that image,
 * which is all the `cri` backend asks of a runtime during a pull.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { criProto } from '../../src/cri/proto';

export const RECORDED_IMAGE_ID = `sha256:${'ab'.repeat(32)}`;

export class RecordingCriServer {
  /** Every PullImage request body received, in order. */
  readonly pulls: Buffer[] = [];
  /** What PullImage answers as image_ref; older CRI-O answered a digest reference instead of the ID. */
  pullAnswer = RECORDED_IMAGE_ID;
  readonly #dir = mkdtempSync(join(tmpdir(), 'imagegate-recorder-'));
  readonly path = join(this.#dir, 'cri.sock');
  readonly #server = new grpc.Server();

  static async start(): Promise<RecordingCriServer> {
    const recorder = new RecordingCriServer();
    const service = criProto().runtime.v1.ImageService.service;
    const definition: grpc.ServiceDefinition = {
      PullImage: { ...service.PullImage, requestDeserialize: (bytes: Buffer) => Buffer.from(bytes) },
      ImageStatus: service.ImageStatus,
    };
    recorder.#server.addService(definition, {
      PullImage: (call: grpc.ServerUnaryCall<Buffer, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        recorder.pulls.push(call.request);
        callback(null, { imageRef: recorder.pullAnswer });
      },
      ImageStatus: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        callback(null, { image: { id: RECORDED_IMAGE_ID, repoTags: [], repoDigests: [], size: '1024' } });
      },
    });
    await new Promise<void>((resolve, reject) =>
      recorder.#server.bindAsync(`unix:${recorder.path}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    return recorder;
  }

  get endpoint(): string {
    return `unix://${this.path}`;
  }

  async close(): Promise<void> {
    this.#server.forceShutdown();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

