import { chmodSync, lstatSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { silentLogger, type Logger } from '../log/logger';
import { normalizedConnection } from './authority/connection';
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

/** Largest message sent (a ListImages answer on a node with thousands of images); kubelet's own receive limit is 16 MiB. */
const MAX_SEND = 16 * 1024 * 1024;
/**
 * Largest request accepted. kubelet's largest is a PullImage carrying the pod's annotations twice (ImageSpec and
 * sandbox config; the API server caps them at 256 KiB) plus its labels, so 1 MiB leaves room; larger requests get
 * RESOURCE_EXHAUSTED as soon as their length prefix arrives.
 */
export const MAX_RECEIVE = 1024 * 1024;
/**
 * Connections served at once (kubelet keeps one; probes, crictl and the patcher come and go) and calls open at once
 * on each. With MAX_RECEIVE they bound the request bytes being received to 8 × 16 × 1 MiB = 128 MiB; the image
 * service's maxConcurrentPulls bounds the requests held while pulls run. A client past a bound waits (grpc-go and
 * grpc-js queue calls beyond the stream limit) or is disconnected (connections). See the README for the measured
 * worst case.
 */
export const MAX_CONNECTIONS = 8;
export const MAX_STREAMS_PER_CONNECTION = 16;

/**
 * Serves runtime.v1.ImageService and grpc.health.v1.Health on a Unix socket.
 * `start` creates the socket's folder, refuses to start when a live server
 * answers on the socket, and removes a stale socket file; `stop` stops
 * accepting, lets in-flight calls finish within the grace period, then removes
 * the socket.
 */
export class CriServer {
  readonly #server: grpc.Server;
  readonly #listener: net.Server;
  readonly #options: CriServerOptions;

  private constructor(
    readonly socket: string,
    readonly health: HealthService,
    server: grpc.Server,
    listener: net.Server,
    options: CriServerOptions,
    private readonly inFlight: InFlightCalls,
  ) {
    this.#server = server;
    this.#listener = listener;
    this.#options = options;
  }

  static async start(options: CriServerOptions): Promise<CriServer> {
    const logger = options.logger ?? silentLogger;
    mkdirSync(dirname(options.socket), { recursive: true, mode: 0o755 });
    await clearSocket(options.socket);
    const server = new grpc.Server({
      'grpc.max_receive_message_length': MAX_RECEIVE,
      'grpc.max_send_message_length': MAX_SEND,
      'grpc.max_concurrent_streams': MAX_STREAMS_PER_CONNECTION,
    });
    const deps = { logger, metrics: options.metrics ?? noRpcMetrics };
    const inFlight = new InFlightCalls();
    const definition = imageServiceDefinition(options.service);
    server.addService(definition, inFlight.track(definition, imageServiceHandlers(options.service, deps) as unknown as grpc.UntypedServiceImplementation));
    const health = new HealthService(['runtime.v1.ImageService']);
    health.addToServer(server);
    // Connections are accepted here, not by grpc-js, so that each one's :authority can be normalised on the way in
    // (see authority/normalizer.ts: kubelet <= 1.30 sends the socket path, which Node's HTTP/2 layer refuses).
    const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    const listener = net.createServer((socket) =>
      injector.injectConnection(
        normalizedConnection(socket, (err) => logger.debug('closed a CRI connection that broke HTTP/2 framing', { error: err.message })),
      ),
    );
    listener.maxConnections = MAX_CONNECTIONS;
    // Bound under a temporary name and renamed once its mode is set, so the socket never appears with the umask's mode.
    const temporary = `${options.socket}.${process.pid}.tmp`;
    rmSync(temporary, { force: true });
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(temporary, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    chmodSync(temporary, options.socketMode ?? 0o660);
    renameSync(temporary, options.socket);
    logger.info('image service listening', { socket: options.socket, backend: options.service.backend.name });
    return new CriServer(options.socket, health, server, listener, options, inFlight);
  }

  /** Stops gracefully (see the class comment) and closes the image service. */
  async stop(): Promise<void> {
    const logger = this.#options.logger ?? silentLogger;
    const grace = this.#options.gracePeriodMs ?? 30_000;
    this.health.shutdown();
    this.#listener.close();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        logger.warn('grace period over; cancelling in-flight calls', { gracePeriodMs: grace });
        this.#server.forceShutdown();
        resolve();
      }, grace);
      // grpc-js (on Node 24) may report its injected connections closed while a call still runs: wait for the calls too.
      this.#server.tryShutdown(() => {
        void this.inFlight.idle().then(() => {
          clearTimeout(timer);
          resolve();
        });
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

/**
 * The image service's calls that have not answered yet: `stop()` waits for
 * them, not only for grpc-js's sessions, before it calls the shutdown done.
 */
class InFlightCalls {
  #count = 0;
  #waiters: (() => void)[] = [];

  /** The handlers, each counted from its start to its answer (or cancellation). */
  track(definition: grpc.ServiceDefinition, handlers: grpc.UntypedServiceImplementation): grpc.UntypedServiceImplementation {
    const tracked: grpc.UntypedServiceImplementation = {};
    for (const [name, handler] of Object.entries(handlers)) {
      const streaming = definition[name]?.responseStream === true;
      tracked[name] = ((call: grpc.ServerUnaryCall<unknown, unknown> & NodeJS.EventEmitter, callback?: grpc.sendUnaryData<unknown>) => {
        const done = this.#start();
        call.once('cancelled', done);
        if (streaming) {
          call.once('finish', done);
          call.once('error', done);
          return (handler as (c: unknown) => void)(call);
        }
        return (handler as (c: unknown, cb: grpc.sendUnaryData<unknown>) => void)(call, (...args: Parameters<grpc.sendUnaryData<unknown>>) => {
          done();
          callback!(...args);
        });
      }) as grpc.UntypedHandleCall;
    }
    return tracked;
  }

  /** Resolves once no call is in flight. */
  idle(): Promise<void> {
    return this.#count === 0 ? Promise.resolve() : new Promise((resolve) => this.#waiters.push(resolve));
  }

  #start(): () => void {
    this.#count++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--this.#count === 0) for (const w of this.#waiters.splice(0)) w();
    };
  }
}
