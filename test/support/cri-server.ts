/**
 * An imagegate image service bound on a temporary Unix socket, in process,
 * with any backend, and a real gRPC client talking to it. Its log lines are
 * captured in `logs` (JSON text, as they would be written).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { call, healthClient, imageServiceClient } from '../../src/cri/client/connect';
import { createRpcMetrics } from '../../src/cri/grpc/metrics';
import type { ImageBackend } from '../../src/cri/image-backend';
import { ImageService } from '../../src/cri/image-service';
import { CriServer } from '../../src/cri/server';
import type { PullCredentials } from '../../src/credentials/pull-credentials';
import type { ImageServiceClient } from '../../src/generated/runtime/v1/ImageService';
import type { HealthClient } from '../../src/generated/grpc/health/v1/Health';
import { createLogger } from '../../src/log/logger';

export interface TestImagegateOptions {
  credentials?: PullCredentials;
  pinnedImages?: string[];
  maxConcurrentPulls?: number;
  gracePeriodMs?: number;
}

export class TestImagegate {
  private constructor(
    readonly dir: string,
    readonly socket: string,
    readonly server: CriServer,
    readonly client: ImageServiceClient,
    readonly health: HealthClient,
    readonly logs: string[],
    readonly registry: Registry,
  ) {}

  /** `unix:///…`, as kubelet and `imagegate images --image-endpoint` take it. */
  get endpoint(): string {
    return `unix://${this.socket}`;
  }

  static async start(backend: ImageBackend, options: TestImagegateOptions = {}): Promise<TestImagegate> {
    const dir = mkdtempSync(join(tmpdir(), 'imagegate-cri-'));
    const socket = join(dir, 'imagegate.sock');
    const logs: string[] = [];
    const logger = createLogger({ level: 'debug', sink: logs });
    const registry = new Registry();
    const service = new ImageService({ backend, credentials: options.credentials, pinnedImages: options.pinnedImages, maxConcurrentPulls: options.maxConcurrentPulls, logger });
    const server = await CriServer.start({ socket, service, logger, metrics: createRpcMetrics(registry), gracePeriodMs: options.gracePeriodMs ?? 5000 });
    return new TestImagegate(dir, socket, server, imageServiceClient(`unix://${socket}`), healthClient(`unix://${socket}`), logs, registry);
  }

  /** One unary ImageService call; rejects with the grpc ServiceError. */
  call<Res = any>(method: string, request: object, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Res> {
    return call<object, Res>(this.client as unknown as grpc.Client, method, request, options);
  }

  async stop(): Promise<void> {
    this.client.close();
    this.health.close();
    await this.server.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
