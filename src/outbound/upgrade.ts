import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { OutboundError, toOutboundError } from './errors';
import { prepare, requestPath, type ForwardContext } from './forward';
import { downstreamHeaders, upgradeTo, upstreamHeaders } from './headers';

/**
 * The `upgrade` handler (WebSocket and other HTTP/1.1 upgrades): the handshake
 * goes upstream with the token like any request, on a connection undici then
 * hands over; on `101` the two sockets are joined byte for byte; any other
 * answer is relayed and the connection closed. No answer within
 * UPSTREAM_TIMEOUT → 504. Joined sockets are added to `open` so that shutdown
 * can end them.
 */
export function createUpgrader(ctx: ForwardContext, open: Set<Duplex>): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    prepare(ctx, req).then(
      ({ route, token }) => {
        if (socket.destroyed) return;
        const handler = new UpgradeRelay(ctx, socket, head, open);
        ctx.upstream.dispatch(route, req.method ?? 'GET', requestPath(req), upstreamHeaders(req, route, token, ctx.inject), null, handler, upgradeTo(req) ?? 'websocket');
      },
      (err) => reject(ctx, socket, toOutboundError(err)),
    );
  };
}

/** undici's handler for one upgrade handshake. */
class UpgradeRelay implements Dispatcher.DispatchHandler {
  #timer?: NodeJS.Timeout;
  #answered = false;
  #headersSent = false;

  constructor(
    private readonly ctx: ForwardContext,
    private readonly socket: Duplex,
    private readonly head: Buffer,
    private readonly open: Set<Duplex>,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    this.#timer = setTimeout(() => abort(new OutboundError('timeout', `no upgrade answer within ${this.ctx.upstreamTimeoutMs} ms`)), this.ctx.upstreamTimeoutMs);
    this.socket.once('close', () => {
      clearTimeout(this.#timer);
      if (!this.#answered) abort(new Error('client went away'));
    });
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, upSocket: Duplex): void {
    clearTimeout(this.#timer);
    this.#answered = true;
    const { socket, open } = this;
    socket.write(`HTTP/1.1 ${statusCode} Switching Protocols\r\n` + headerLines(rawHeaders ?? [], false) + '\r\n');
    if (this.head.length > 0) upSocket.write(this.head);
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    upSocket.on('error', () => socket.destroy());
    upSocket.once('close', () => socket.destroy());
    socket.once('close', () => upSocket.destroy());
    upSocket.pipe(socket);
    socket.pipe(upSocket);
    this.ctx.metrics.requests.inc({ status: String(statusCode), source: 'upstream' });
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true;
    clearTimeout(this.#timer);
    this.socket.write(`HTTP/1.1 ${statusCode} ${statusText}\r\n` + headerLines(rawHeaders, true) + 'connection: close\r\n\r\n');
    this.#headersSent = true;
    this.socket.on('drain', resume);
    this.ctx.metrics.requests.inc({ status: String(statusCode), source: 'upstream' });
    return true;
  }

  onData(chunk: Buffer): boolean {
    return this.socket.write(chunk);
  }

  onComplete(): void {
    this.#answered = true;
    this.socket.end();
  }

  onError(err: Error): void {
    clearTimeout(this.#timer);
    this.#answered = true;
    if (this.#headersSent) {
      this.socket.destroy();
      return;
    }
    reject(this.ctx, this.socket, toOutboundError(err));
  }
}

/** Header lines as received; for a relayed non-101 answer without the hop-by-hop ones (its body is sent decoded, ended by the close). */
function headerLines(raw: Buffer[] | string[], endToEnd: boolean): string {
  const strings = endToEnd ? downstreamHeaders(raw as Buffer[]) : raw.map((h) => h.toString('latin1'));
  let out = '';
  for (let i = 0; i < strings.length; i += 2) out += `${strings[i]}: ${strings[i + 1]}\r\n`;
  return out;
}

function reject(ctx: ForwardContext, socket: Duplex, err: OutboundError): void {
  ctx.logger.warn('upgrade not forwarded', { status: err.status, reason: err.kind, detail: err.detail });
  ctx.metrics.requests.inc({ status: String(err.status), source: 'proxy' });
  if (socket.destroyed) return;
  const body = err.body + '\n';
  socket.end(
    `HTTP/1.1 ${err.status} ${err.body}\r\ncontent-type: text/plain; charset=utf-8\r\nx-outbound-proxy: ${err.kind}\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
