/**
 * Byte relays the `cri` backend's tests put in front of real servers: one on a
 * Unix socket before containerd (cut it to take "the runtime" away without
 * stopping the shared containerd), and one on a loopback TCP port before a
 * registry that slows the download down (so a pull is still running when the
 * client's deadline passes). Both count their open connections.
 */
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

abstract class Relay {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  /** Connections accepted since the relay started. */
  accepted = 0;

  protected constructor(private readonly connectUpstream: () => net.Socket) {
    this.#server = net.createServer((client) => this.#relay(client));
  }

  /** Connections open right now. */
  get open(): number {
    return this.#sockets.size / 2;
  }

  protected listen(options: net.ListenOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(options, () => {
        this.#server.removeListener('error', reject);
        resolve();
      });
    });
  }

  /** Stops listening and drops every open connection, as if the server behind had died. */
  async cut(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    if (this.#server.listening) await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Copies client bytes upstream; subclasses may watch them. */
  protected pipeUp(client: net.Socket, upstream: net.Socket): void {
    client.pipe(upstream);
  }

  /** Copies upstream bytes to the client; subclasses may slow it down. */
  protected pipeDown(upstream: net.Socket, client: net.Socket): void {
    upstream.pipe(client);
  }

  #relay(client: net.Socket): void {
    this.accepted++;
    const upstream = this.connectUpstream();
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on('error', () => undefined);
      socket.once('close', () => {
        this.#sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    this.pipeUp(client, upstream);
    this.pipeDown(upstream, client);
  }
}

/** A relay listening on a fresh Unix socket in a temporary folder, forwarding to `target`. */
export class UnixRelay extends Relay {
  readonly #dir = mkdtempSync(join(tmpdir(), 'imagegate-relay-'));
  readonly path = join(this.#dir, 'relay.sock');

  private constructor(target: string) {
    super(() => net.connect({ path: target }));
  }

  static async start(target: string): Promise<UnixRelay> {
    const relay = new UnixRelay(target);
    await relay.restore();
    return relay;
  }

  /** Listens again after `cut()`. */
  async restore(): Promise<void> {
    await this.listen({ path: this.path });
  }

  async close(): Promise<void> {
    await this.cut();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/**
 * A relay on 127.0.0.1:<port> to a registry that sends downstream at most
 * `bytesPerSecond`. Ports 5050-5059 have a hosts.toml in the CI containerd
 * (plain HTTP); `start` takes the first free one.
 */
export class ThrottledTcpRelay extends Relay {
  port = 0;

  private constructor(
    target: string,
    private readonly bytesPerSecond: number,
  ) {
    const i = target.lastIndexOf(':');
    super(() => net.connect({ host: target.slice(0, i), port: Number(target.slice(i + 1)) }));
  }

  static async start(target: string, bytesPerSecond: number): Promise<ThrottledTcpRelay> {
    const relay = new ThrottledTcpRelay(target, bytesPerSecond);
    for (let port = 5050; port <= 5059; port++) {
      try {
        await relay.listen({ host: '127.0.0.1', port });
        relay.port = port;
        return relay;
      } catch {
        // taken; try the next
      }
    }
    throw new Error('no free port in 5050-5059 for the throttled registry relay');
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Bytes passed down to clients so far: it stops growing when nobody is downloading. */
  bytesDown = 0;

  protected override pipeDown(upstream: net.Socket, client: net.Socket): void {
    const slice = 16 * 1024;
    let sending = false;
    let ended = false;
    upstream.on('data', (chunk: Buffer) => {
      upstream.pause();
      sending = true;
      const parts: Buffer[] = [];
      for (let i = 0; i < chunk.length; i += slice) parts.push(chunk.subarray(i, i + slice));
      const next = () => {
        if (client.destroyed) return;
        const part = parts.shift();
        if (!part) {
          sending = false;
          if (ended) client.end();
          else upstream.resume();
          return;
        }
        client.write(part);
        this.bytesDown += part.length;
        setTimeout(next, (part.length / this.bytesPerSecond) * 1000);
      };
      next();
    });
    upstream.once('end', () => {
      ended = true;
      if (!sending) client.end();
    });
  }
}
