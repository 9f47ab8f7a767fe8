import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { logFields, toOutboundError, type OutboundError } from './errors';
import { prepare, requestPath, type ForwardContext } from './forward';
import { upstreamHeaders } from './headers';

/**
 * The `upgrade` handler (WebSocket and other HTTP/1.1 upgrades): the handshake
 * goes upstream with the token like any request; on `101` the two sockets are
 * joined byte for byte; any other answer is relayed and the connection closed.
 * Joined sockets are added to `open` so that shutdown can end them.
 */
export function createUpgrader(ctx: ForwardContext, open: Set<Duplex>): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    prepare(ctx, req)
      .then(({ route, token }) => {
        const upReq = ctx.agents.request(route, req.method, requestPath(req), upstreamHeaders(req, route, token, ctx.inject, true), true);
        const timer = setTimeout(() => upReq.destroy(Object.assign(new Error('upgrade timed out'), { code: 'ETIMEDOUT' })), ctx.upstreamTimeoutMs);
        upReq.once('upgrade', (upRes, upSocket, upHead) => {
          clearTimeout(timer);
          socket.write(statusLine(upRes) + rawHeaders(upRes.rawHeaders) + '\r\n');
          if (upHead.length > 0) socket.write(upHead);
          if (head.length > 0) upSocket.write(head);
          open.add(socket);
          socket.once('close', () => open.delete(socket));
          upSocket.on('error', () => socket.destroy());
          socket.on('error', () => upSocket.destroy());
          upSocket.once('close', () => socket.destroy());
          socket.once('close', () => upSocket.destroy());
          ctx.collector.watch(upSocket, 0);
          ctx.collector.watch(socket, 0);
          upSocket.pipe(socket);
          socket.pipe(upSocket);
          ctx.metrics.requests.inc({ status: String(upRes.statusCode), source: 'upstream' });
        });
        upReq.once('response', (upRes) => {
          clearTimeout(timer);
          socket.write(statusLine(upRes) + rawHeaders(upRes.rawHeaders, true) + 'connection: close\r\n\r\n');
          upRes.pipe(socket);
          ctx.metrics.requests.inc({ status: String(upRes.statusCode), source: 'upstream' });
        });
        upReq.once('error', (err) => {
          clearTimeout(timer);
          reject(ctx, socket, toOutboundError(err));
        });
        upReq.end();
      })
      .catch((err: unknown) => reject(ctx, socket, toOutboundError(err)));
  };
}

function statusLine(res: IncomingMessage): string {
  return `HTTP/1.1 ${res.statusCode} ${res.statusMessage ?? ''}\r\n`;
}

function rawHeaders(raw: string[], dropConnection = false): string {
  let out = '';
  for (let i = 0; i < raw.length; i += 2) {
    if (dropConnection && /^(connection|keep-alive|transfer-encoding)$/i.test(raw[i])) continue;
    out += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  return out;
}

function reject(ctx: ForwardContext, socket: Duplex, err: OutboundError): void {
  const { level, stack } = logFields(err);
  ctx.logger.log(level === 'info' ? 'warn' : level, 'upgrade not forwarded', { status: err.status, reason: err.kind, detail: err.detail, stack });
  ctx.metrics.requests.inc({ status: String(err.status), source: 'proxy' });
  if (socket.destroyed) return;
  const body = err.body + '\n';
  socket.end(
    `HTTP/1.1 ${err.status} ${err.body}\r\ncontent-type: text/plain; charset=utf-8\r\nx-outbound-proxy: ${err.kind}\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
