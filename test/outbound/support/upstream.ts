import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { WebSocketServer } from 'ws';

/** What the upstream saw of one request. */
export interface SeenCall {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** Verified claims, or undefined when the token was rejected (see `error`). */
  claims?: JWTPayload;
  error?: string;
}

export interface UpstreamOptions {
  /** JWKS URL and issuer of the AWS stand-in. */
  jwksUrl: string;
  issuer: string;
  /** Header carrying the token and its scheme. Default `authorization`, `Bearer`. */
  authHeader?: string;
  authScheme?: string;
  /** Serve HTTPS with this PEM key and certificate. Default plain HTTP. */
  tls?: { key: string; cert: string };
}

/**
 * A loopback upstream that verifies every bearer token with jose against the
 * stand-in's JWKS (signature, issuer, audience, expiry) and answers 401 when
 * one fails. Routes: `/echo` (JSON of what it saw), `/upload` (counts the body),
 * `/download?bytes=N` (streams N bytes with backpressure), `/slow?ms=N`
 * (delays the headers), `/cut` (promises 1 MiB, sends 64 KiB, drops the
 * connection), and a WebSocket echo on any path.
 */
export class JwtCheckingUpstream {
  readonly calls: SeenCall[] = [];
  /** Request bodies that ended before their promised length (the client or a proxy went away). */
  aborted = 0;
  /** TCP connections accepted so far (keep-alive reuse shows as fewer connections than requests). */
  connections = 0;
  /** Audiences a token must name (any one of them). Set per test. */
  audiences: string[] = [];
  /** Header carrying the token, and its scheme (empty for a bare token). */
  authHeader: string;
  authScheme: string;
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;
  private readonly wss = new WebSocketServer({ noServer: true });

  private constructor(
    private readonly server: http.Server,
    private readonly options: UpstreamOptions,
  ) {
    this.jwks = createRemoteJWKSet(new URL(options.jwksUrl));
    this.authHeader = options.authHeader ?? 'authorization';
    this.authScheme = options.authScheme ?? 'Bearer';
    server.on('connection', () => (this.connections += 1));
    server.on('request', (req, res) => void this.handle(req, res));
    server.on('upgrade', (req, socket, head) => void this.upgrade(req, socket, head));
  }

  static async start(options: UpstreamOptions): Promise<JwtCheckingUpstream> {
    const server = options.tls ? https.createServer(options.tls) : http.createServer();
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return new JwtCheckingUpstream(server, options);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** `127.0.0.1:<port>`, as UPSTREAM_HOST or a routing header. */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  last(): SeenCall {
    const call = this.calls[this.calls.length - 1];
    if (!call) throw new Error('the upstream saw no request');
    return call;
  }

  reset(): void {
    this.calls.length = 0;
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async verify(req: http.IncomingMessage): Promise<SeenCall> {
    const call: SeenCall = { method: req.method ?? '', path: req.url ?? '', headers: req.headers };
    this.calls.push(call);
    const header = req.headers[this.authHeader];
    const prefix = this.authScheme ? `${this.authScheme} ` : '';
    if (typeof header !== 'string' || !header.startsWith(prefix)) {
      call.error = 'no bearer token';
      return call;
    }
    try {
      const { payload } = await jwtVerify(header.slice(prefix.length), this.jwks, {
        issuer: this.options.issuer,
        audience: this.audiences,
        algorithms: ['RS256', 'ES384'],
        requiredClaims: ['exp', 'iat', 'sub'],
      });
      call.claims = payload;
    } catch (err) {
      call.error = (err as Error).message;
    }
    return call;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const call = await this.verify(req);
    const url = new URL(req.url ?? '/', 'http://upstream');
    if (call.error) {
      req.resume();
      res.writeHead(401, { 'content-type': 'text/plain' }).end(`token rejected: ${call.error}\n`);
      return;
    }
    switch (url.pathname) {
      case '/upload': {
        let bytes = 0;
        req.on('data', (chunk: Buffer) => (bytes += chunk.length));
        req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes })));
        req.on('close', () => {
          if (!req.complete) this.aborted += 1;
        });
        return;
      }
      case '/download': {
        const total = Number(url.searchParams.get('bytes') ?? 0);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
        Readable.from(chunks(total)).pipe(res);
        return;
      }
      case '/cut': {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(1024 * 1024) });
        res.write(Buffer.alloc(64 * 1024, 0x63), () => res.destroy());
        return;
      }
      case '/slow':
        await new Promise((r) => setTimeout(r, Number(url.searchParams.get('ms') ?? 1000)));
        break;
      default:
        break;
    }
    req.resume();
    if (res.destroyed) return;
    res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes' });
    res.end(JSON.stringify({ method: req.method, path: req.url, headers: req.headers, claims: call.claims }));
  }

  private async upgrade(req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer): Promise<void> {
    const call = await this.verify(req);
    if (call.error) {
      socket.end(`HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  }
}

/** `total` bytes in 64 KiB chunks, generated lazily (a Readable from it honours backpressure). */
function* chunks(total: number): Generator<Buffer> {
  const block = Buffer.alloc(64 * 1024, 0x61);
  for (let sent = 0; sent < total; sent += block.length) {
    yield total - sent >= block.length ? block : block.subarray(0, total - sent);
  }
}
