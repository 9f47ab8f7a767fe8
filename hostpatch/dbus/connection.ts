import net from 'node:net';
import { Reader, Writer } from './marshal';

/** An error reply from the peer (`org.freedesktop.systemd1.NoSuchUnit` …) or a transport failure. */
export class DbusError extends Error {
  constructor(override readonly name: string, message: string) {
    super(`${name}: ${message}`);
  }
}

/** One method call. `destination` is left out on peer-to-peer connections such as systemd's private socket. */
export interface MethodCall {
  path: string;
  interface: string;
  member: string;
  destination?: string;
  signature?: string;
  body?: unknown[];
}

export interface Reply {
  signature: string;
  body: unknown[];
}

const enum Type { Call = 1, Return = 2, Error = 3, Signal = 4 }
const enum Field { Path = 1, Interface = 2, Member = 3, ErrorName = 4, ReplySerial = 5, Destination = 6, Signature = 8 }

/**
 * A minimal D-Bus client connection over a Unix socket: SASL EXTERNAL
 * authentication with the caller's uid, method calls with replies matched by
 * serial. Signals are ignored. Not safe to share across processes; calls may
 * overlap. `close()` ends it; pending calls fail.
 */
export class DbusConnection {
  private serial = 0;
  private pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private input = Buffer.alloc(0);

  private constructor(private readonly socket: net.Socket, private readonly timeoutMs: number) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.failAll(new DbusError('imagegate.Disconnected', 'connection closed')));
    socket.on('error', (err) => this.failAll(new DbusError('imagegate.Disconnected', err.message)));
  }

  /** Connects and authenticates; rejects with the socket error (ENOENT, EACCES …) or the auth refusal. */
  static async open(path: string, options: { uid?: number; timeoutMs?: number } = {}): Promise<DbusConnection> {
    const uid = options.uid ?? process.getuid?.() ?? 0;
    const timeoutMs = options.timeoutMs ?? 30_000;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ path });
      const timer = setTimeout(() => { s.destroy(); reject(new Error(`connect ${path}: timed out`)); }, timeoutMs);
      s.once('error', (err) => { clearTimeout(timer); reject(err); });
      s.once('connect', () => { clearTimeout(timer); s.removeAllListeners('error'); resolve(s); });
    });
    await authenticate(socket, uid, timeoutMs);
    const connection = new DbusConnection(socket, timeoutMs);
    await connection.kick();
    return connection;
  }

  /**
   * Pings the peer until it answers. systemd (seen with 252) can leave the
   * first message after BEGIN unread in its buffer until more bytes arrive;
   * each further Ping is such a byte, so the peer catches up within a few
   * short tries.
   */
  private async kick(): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
      try {
        await this.call({ path: '/', interface: 'org.freedesktop.DBus.Peer', member: 'Ping' }, wait);
        return;
      } catch (err) {
        if (!(err instanceof DbusError && err.name === 'imagegate.Timeout') || Date.now() > deadline) throw err;
      }
    }
  }

  /** Sends a method call and resolves with the reply body; an error reply rejects with DbusError. */
  call(call: MethodCall, timeoutMs = this.timeoutMs): Promise<Reply> {
    const serial = ++this.serial;
    const message = encodeCall(serial, call);
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(serial);
        reject(new DbusError('imagegate.Timeout', `${call.interface}.${call.member} got no reply in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(serial, { resolve, reject, timer });
      this.socket.write(message);
    });
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.input = Buffer.concat([this.input, chunk]);
    for (;;) {
      if (this.input.length < 16) return;
      const bodyLength = this.input.readUInt32LE(4);
      const fieldsLength = this.input.readUInt32LE(12);
      const headerEnd = 16 + fieldsLength + ((8 - (fieldsLength % 8)) % 8);
      const total = headerEnd + bodyLength;
      if (this.input.length < total) return;
      const message = this.input.subarray(0, total);
      this.input = this.input.subarray(total);
      this.dispatch(message, headerEnd);
    }
  }

  private dispatch(message: Buffer, headerEnd: number): void {
    if (message[0] !== 0x6c) return this.failAll(new DbusError('imagegate.Protocol', 'big-endian messages are not supported'));
    const type = message[1];
    const fields = new Map<number, unknown>();
    for (const [code, variant] of new Reader(message, 12).read('a(yv)')[0] as [number, { value: unknown }][]) fields.set(code, variant.value);
    const replyTo = fields.get(Field.ReplySerial) as number | undefined;
    const waiter = replyTo === undefined ? undefined : this.pending.get(replyTo);
    if (!waiter || (type !== Type.Return && type !== Type.Error)) return;
    this.pending.delete(replyTo!);
    clearTimeout(waiter.timer);
    const signature = (fields.get(Field.Signature) as string | undefined) ?? '';
    const body = signature ? new Reader(message, headerEnd).read(signature) : [];
    if (type === Type.Error) {
      waiter.reject(new DbusError(String(fields.get(Field.ErrorName)), typeof body[0] === 'string' ? body[0] : ''));
    } else {
      waiter.resolve({ signature, body });
    }
  }

  private failAll(err: Error): void {
    for (const [serial, w] of this.pending) {
      clearTimeout(w.timer);
      this.pending.delete(serial);
      w.reject(err);
    }
  }
}

function encodeCall(serial: number, call: MethodCall): Buffer {
  const fields: [number, { signature: string; value: unknown }][] = [
    [Field.Path, { signature: 'o', value: call.path }],
    [Field.Interface, { signature: 's', value: call.interface }],
    [Field.Member, { signature: 's', value: call.member }],
  ];
  if (call.destination) fields.push([Field.Destination, { signature: 's', value: call.destination }]);
  if (call.signature) fields.push([Field.Signature, { signature: 'g', value: call.signature }]);
  const w = new Writer();
  w.write('yyyyuu', [0x6c, Type.Call, 0, 1, 0, serial]);
  w.write('a(yv)', [fields]);
  w.align(8);
  const bodyStart = w.length;
  if (call.signature) w.write(call.signature, call.body ?? []);
  w.setUint32(4, w.length - bodyStart);
  return Buffer.from(w.bytes());
}

/** SASL EXTERNAL: the uid as hex-encoded ASCII digits, then BEGIN. */
async function authenticate(socket: net.Socket, uid: number, timeoutMs: number): Promise<void> {
  const hexUid = Buffer.from(String(uid), 'ascii').toString('hex');
  const line = await new Promise<string>((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => done(new Error('D-Bus authentication timed out')), timeoutMs);
    const onData = (chunk: Buffer) => {
      got += chunk.toString('latin1');
      const end = got.indexOf('\r\n');
      if (end >= 0) done(undefined, got.slice(0, end));
    };
    const onClose = () => done(new Error('D-Bus peer closed the connection during authentication'));
    function done(err?: Error, result?: string) {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve(result!);
    }
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.write(`\0AUTH EXTERNAL ${hexUid}\r\n`);
  });
  if (!line.startsWith('OK ')) {
    socket.destroy();
    throw new DbusError('imagegate.AuthRejected', `D-Bus peer refused uid ${uid}: ${line}`);
  }
  socket.write('BEGIN\r\n');
}
