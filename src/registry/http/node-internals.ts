import { readSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * The Node.js internals the zero-copy relay relies on, reached only through
 * this module. None is public API:
 * - `socket._handle.fd`: a TCP socket's file descriptor, handed to splice(2)
 *   and to the file relay's write(2);
 * - `socket._handle.readStop()` and `socket._handle.reading`: stop Node
 *   reading a socket, and keep it from starting again, so the body stays in
 *   the kernel for the relay;
 * - `socket._httpMessage`: the response a server socket is writing now (the
 *   relay writes only when it is the one).
 * `checkRelayInternals()` proves at start-up, on a loopback connection, that
 * they exist and behave; the facade streams instead (one warn line) when they
 * do not. test/registry/node-internals.test.ts checks them directly, so a
 * Node.js version that changed them fails the suite.
 */

interface TcpHandle {
  fd?: unknown;
  readStop?: unknown;
  reading?: unknown;
}

function handleOf(socket: Socket): TcpHandle | undefined {
  return (socket as unknown as { _handle?: TcpHandle | null })._handle ?? undefined;
}

/** The file descriptor behind a socket's handle; undefined when it has none (closed, not a TCP or pipe socket). */
export function socketFd(socket: Socket): number | undefined {
  const fd = handleOf(socket)?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** True when `res` is the response the server socket `socket` is writing now. */
export function isWritingResponse(socket: Socket, res: http.ServerResponse): boolean {
  return (socket as unknown as { _httpMessage?: unknown })._httpMessage === res;
}

/** Stops Node.js reading `socket` for good: what arrives next stays in the kernel for the relay. */
export function stopReading(socket: Socket): void {
  const handle = handleOf(socket) as { readStop(): number; reading: boolean };
  handle.readStop();
  handle.reading = true;
}

let checked: Promise<string | undefined> | undefined;

/** `probeRelayInternals()`, once per process: undefined when the internals behave, else what is wrong. */
export function checkRelayInternals(): Promise<string | undefined> {
  checked ??= probeRelayInternals();
  return checked;
}

const PROBE_MS = 5000;
const BODY = 65_536;

/**
 * On a loopback HTTP exchange: the server's socket has a file descriptor and
 * `_httpMessage` is the handler's response; on the client's socket,
 * `readStop()` plus `reading = true` stop Node reading (no `data` event, no
 * byte counted, even after `resume()`) while the bytes that arrive can still
 * be read from the descriptor. Resolves with the first problem found, or
 * undefined; never rejects.
 */
export async function probeRelayInternals(): Promise<string | undefined> {
  const sockets: Socket[] = [];
  let send: (() => void) | undefined;
  const server = http.createServer((req, res) => {
    sockets.push(req.socket);
    const problem = socketFd(req.socket) === undefined ? 'a server socket has no _handle.fd' : !isWritingResponse(req.socket, res) ? "a server socket's _httpMessage is not the response" : undefined;
    res.writeHead(200, { 'content-length': String(BODY), 'x-problem': problem ?? '' });
    res.flushHeaders();
    send = () => res.end(Buffer.alloc(BODY, 'b'));
  });
  try {
    await new Promise<void>((done, fail) => server.once('error', fail).listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    const res = await new Promise<http.IncomingMessage>((done, fail) => {
      const req = http.get({ host: '127.0.0.1', port, agent: false }, done).once('error', fail);
      req.setTimeout(PROBE_MS, () => req.destroy(new Error('no answer')));
    });
    const socket = res.socket;
    sockets.push(socket);
    if (res.headers['x-problem']) return String(res.headers['x-problem']);
    const handle = handleOf(socket);
    const fd = socketFd(socket);
    if (fd === undefined) return 'a client socket has no _handle.fd';
    if (typeof handle?.readStop !== 'function') return '_handle.readStop is not a function';
    if (typeof handle.reading !== 'boolean') return '_handle.reading is not a boolean';
    stopReading(socket);
    // What Node had read before the stop is taken as the relay takes it; reading it must not restart the reads.
    let early = 0;
    for (let chunk = res.read(); chunk !== null; chunk = res.read()) early += (chunk as Buffer).length;
    for (let chunk = socket.read(); chunk !== null; chunk = socket.read()) early += (chunk as Buffer).length;
    let events = 0;
    socket.on('data', () => events++);
    res.on('data', () => events++);
    const counted = socket.bytesRead;
    res.resume();
    send!();
    const deadline = Date.now() + PROBE_MS;
    let inKernel = 0;
    const buffer = Buffer.alloc(BODY);
    while (early + inKernel < BODY && Date.now() < deadline) {
      await new Promise((done) => setTimeout(done, 10));
      if (events > 0 || socket.bytesRead !== counted) break;
      try {
        inKernel += readSync(fd, buffer, 0, buffer.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return `reading _handle.fd failed: ${(err as Error).message}`;
      }
    }
    if (events > 0 || socket.bytesRead !== counted) return 'Node kept reading a socket after _handle.readStop() with reading = true';
    if (early + inKernel < BODY) return `only ${inKernel} of ${BODY - early} bytes could be read from _handle.fd after readStop()`;
    return undefined;
  } catch (err) {
    return `the loopback check failed: ${(err as Error).message}`;
  } finally {
    for (const s of sockets) s.destroy();
    server.closeAllConnections();
    server.close();
  }
}
