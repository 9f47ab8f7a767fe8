/**
 * Loopback relays the image-service tests put in front of real servers:
 * - `UnixRelay`: a Unix socket in front of Docker Engine's socket; `stop()`
 *   takes "Docker" away (without touching the machine's dockerd) and `start()`
 *   brings it back on the same path.
 * - `ThrottledRelay`: a TCP port in 5050-5059 (the ports CI's containerd may
 *   pull from over HTTP) in front of a registry, sending the registry's answers
 *   at a limited rate, or not at all once `stallAfterBytes` have gone through.
 * - `failingRegistry`: an HTTP server on such a port answering every request 503.
 */
import http from 'node:http';
import net from 'node:net';
import { rmSync } from 'node:fs';

/** Ports CI's containerd has a plain-HTTP hosts.toml for (see .ci/services/40-containerd.sh). */
export const RELAY_PORTS = [5050, 5051, 5052, 5053, 5054, 5055, 5056, 5057, 5058, 5059];

class Connections {
  readonly sockets = new Set<net.Socket>();

  track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
  }

  destroyAll(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}

/** A Unix-socket relay in front of another Unix socket. */
export class UnixRelay {
  #server?: net.Server;
  readonly #connections = new Connections();

  constructor(
    readonly path: string,
    private readonly target: string,
  ) {}

  async start(): Promise<void> {
    rmSync(this.path, { force: true });
    const server = net.createServer((client) => {
      const upstream = net.connect({ path: this.target });
      this.#connections.track(client);
      this.#connections.track(upstream);
      client.pipe(upstream).on('error', () => undefined);
      upstream.pipe(client).on('error', () => undefined);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(this.path, () => resolve()));
    this.#server = server;
  }

  /** Stops listening, drops open connections and removes the socket file. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#connections.destroyAll();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.path, { force: true });
  }
}

export interface ThrottleOptions {
  /** Registry answers are sent at most this fast. */
  bytesPerSecond: number;
  /** After this many bytes per connection, nothing more is sent (the pull stalls). */
  stallAfterBytes?: number;
}

/** A throttling TCP relay on a free port in RELAY_PORTS. */
export class ThrottledRelay {
  readonly #connections = new Connections();
  /** Connections accepted so far. */
  accepted = 0;

  private constructor(
    readonly port: number,
    private readonly server: net.Server,
  ) {}

  /** `127.0.0.1:<port>`, the registry host to pull through. */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  readonly #queues = new Set<Buffer[]>();

  /** Connections in the middle of an answer: the registry sent bytes not yet passed on (idle keep-alive connections do not count). */
  get downloading(): number {
    return [...this.#queues].filter((queue) => queue.length > 0).length;
  }

  /** Connections open right now (client side). */
  get open(): number {
    return [...this.#connections.sockets].filter((s) => (s as net.Socket & { side?: string }).side === 'client').length;
  }

  static async start(target: string, options: ThrottleOptions): Promise<ThrottledRelay> {
    const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
    let relay: ThrottledRelay | undefined;
    const server = net.createServer((client) => relay!.#relay(client, host, port, options));
    const bound = await listenOnRelayPort(server);
    relay = new ThrottledRelay(bound, server);
    return relay;
  }

  async close(): Promise<void> {
    this.#connections.destroyAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #relay(client: net.Socket, host: string, port: number, options: ThrottleOptions): void {
    this.accepted++;
    (client as net.Socket & { side?: string }).side = 'client';
    const upstream = net.connect({ host, port });
    this.#connections.track(client);
    this.#connections.track(upstream);
    client.pipe(upstream).on('error', () => undefined);
    client.on('close', () => upstream.destroy());
    let sent = 0;
    let upstreamDone = false;
    const chunkBytes = Math.max(1, Math.floor(options.bytesPerSecond / 10));
    const queue: Buffer[] = [];
    const flush = () => {
      let budget = chunkBytes;
      while (budget > 0 && queue.length > 0) {
        if (options.stallAfterBytes !== undefined && sent >= options.stallAfterBytes) return;
        const head = queue[0];
        const piece = head.subarray(0, budget);
        if (piece.length === head.length) queue.shift();
        else queue[0] = head.subarray(piece.length);
        budget -= piece.length;
        sent += piece.length;
        if (!client.destroyed) client.write(piece);
      }
      if (upstreamDone && queue.length === 0) client.end();
    };
    const timer = setInterval(flush, 100);
    upstream.on('data', (data: Buffer) => queue.push(data));
    upstream.on('close', () => {
      upstreamDone = true;
    });
    this.#queues.add(queue);
    client.on('close', () => {
      clearInterval(timer);
      this.#queues.delete(queue);
    });
  }
}

/** An HTTP server on a free relay port that answers every request `503 Service Unavailable`. */
export async function failingRegistry(): Promise<{ host: string; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => res.writeHead(503, { 'content-type': 'text/plain' }).end('registry down for the test\n'));
  const port = await listenOnRelayPort(server);
  return {
    host: `127.0.0.1:${port}`,
    close: () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      return closed;
    },
  };
}

async function listenOnRelayPort(server: net.Server): Promise<number> {
  for (const port of RELAY_PORTS) {
    const ok = await new Promise<boolean>((resolve) => {
      const onError = () => resolve(false);
      server.once('error', onError);
      server.listen(port, '127.0.0.1', () => {
        server.removeListener('error', onError);
        resolve(true);
      });
    });
    if (ok) return port;
  }
  throw new Error(`no free port in ${RELAY_PORTS[0]}-${RELAY_PORTS[RELAY_PORTS.length - 1]} for a test registry relay`);
}

/** A port in RELAY_PORTS where nothing listens right now (for "registry unreachable"). */
export async function freeRelayPort(): Promise<number> {
  const server = net.createServer();
  const port = await listenOnRelayPort(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
