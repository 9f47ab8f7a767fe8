import { chmodSync, lstatSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { silentLogger, type Logger } from '../log/logger';
import { noRpcMetrics, type RpcMetrics } from './grpc/metrics';
import { imageServiceDefinition, imageServiceHandlers } from './grpc/service';
import { HealthService } from './health';
import type { ImageService } from './image-service';

/** What a CriServer is started with. */
export interface CriServerOptions {
  /** Path of the Unix socket, e.g. `/run/imagegate/imagegate.sock`. */
  socket: string;
  /** Permission bits of the socket file. Default 0o660. */
  socketMode?: number;
  service: ImageService;
  logger?: Logger;
  metrics?: RpcMetrics;
  /** How long `stop()` lets in-flight calls finish before cancelling them. Default 30 s. */
  gracePeriodMs?: number;
}

/** Largest message accepted or sent; kubelet's own receive limit is 16 MiB. */
const MAX_MESSAGE = 16 * 1024 * 1024;

/**
 * Serves runtime.v1.ImageService and grpc.health.v1.Health on a Unix socket.
 * `start` creates the socket's folder, refuses to start when a live server
 * answers on the socket, and removes a stale socket file; `stop` stops
 * accepting, lets in-flight calls finish within the grace period, then removes
 * the socket.
 */
export class CriServer {
  readonly #server: grpc.Server;
  readonly #options: CriServerOptions;

  private constructor(
    readonly socket: string,
    readonly health: HealthService,
    server: grpc.Server,
    options: CriServerOptions,
  ) {
    this.#server = server;
    this.#options = options;
  }

  static async start(options: CriServerOptions): Promise<CriServer> {
    const logger = options.logger ?? silentLogger;
    mkdirSync(dirname(options.socket), { recursive: true, mode: 0o755 });
    await clearSocket(options.socket);
    const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_MESSAGE, 'grpc.max_send_message_length': MAX_MESSAGE });
    const deps = { logger, metrics: options.metrics ?? noRpcMetrics };
    server.addService(imageServiceDefinition(), imageServiceHandlers(options.service, deps) as unknown as grpc.UntypedServiceImplementation);
    const health = new HealthService(['runtime.v1.ImageService']);
    health.addToServer(server);
    // Bound under a temporary name and renamed once its mode is set, so the socket never appears with the umask's mode.
    const temporary = `${options.socket}.${process.pid}.tmp`;
    rmSync(temporary, { force: true });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${temporary}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    chmodSync(temporary, options.socketMode ?? 0o660);
    renameSync(temporary, options.socket);
    logger.info('image service listening', { socket: options.socket, backend: options.service.backend.name });
    return new CriServer(options.socket, health, server, options);
  }

  /** Stops gracefully (see the class comment) and closes the image service. */
  async stop(): Promise<void> {
    const logger = this.#options.logger ?? silentLogger;
    const grace = this.#options.gracePeriodMs ?? 30_000;
    this.health.shutdown();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        logger.warn('grace period over; cancelling in-flight calls', { gracePeriodMs: grace });
        this.#server.forceShutdown();
        resolve();
      }, grace);
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    rmSync(this.socket, { force: true });
    await this.#options.service.close();
    logger.info('image service stopped', { socket: this.socket });
  }
}

/** Removes a stale socket file; throws when a live server answers on it or the path is not a socket. */
export async function clearSocket(path: string): Promise<void> {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  if (await answers(path)) throw new Error(`another server is already answering on ${path}; refusing to start`);
  rmSync(path, { force: true });
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ path });
    const timer = setTimeout(() => done(true), 1000);
    function done(alive: boolean) {
      clearTimeout(timer);
      socket.destroy();
      resolve(alive);
    }
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
