import { encodeLiterals, HpackDecoder, HpackError, type HeaderField } from './hpack';

/** The `:authority` every request reaches grpc-js with: what kubelet ≥ 1.31 sends on its own. */
export const LOCAL_AUTHORITY = 'localhost';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME_HEADER = 9;
const HEADERS = 0x1;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
/** SETTINGS_MAX_FRAME_SIZE of the server behind (Node's default, which grpc-js keeps). */
const MAX_FRAME = 16_384;
/** Largest header block accepted, compressed or decoded (Node's default SETTINGS_MAX_HEADER_LIST_SIZE). */
export const MAX_HEADER_BLOCK = 65_535;

/** A client that broke the HTTP/2 framing or HPACK rules: its connection is closed. */
export class ConnectionError extends Error {}

interface OpenBlock {
  streamId: number;
  flags: number;
  priority: Buffer | null;
  fragments: Buffer[];
  size: number;
}

/**
 * Rewrites the client-to-server bytes of one HTTP/2 connection so that every
 * request's `:authority` is `localhost`, whatever the client sent: the socket
 * path (kubelet ≤ 1.30, crictl ≤ 1.30, grpcurl), an empty value or none.
 * Node's HTTP/2 layer refuses the first two with PROTOCOL_ERROR.
 *
 * Every header block (HEADERS plus its CONTINUATION frames) is decoded with
 * the client's dynamic table and re-encoded as literals that never index, so
 * the server's table stays empty and both tables stay consistent for the whole
 * connection. Request blocks (those with `:method`) get `:authority:
 * localhost` and lose any `host` field; trailers pass with their fields as
 * they were. Every other frame passes through unchanged, sliced, not copied.
 * Padding is dropped and the priority fields are kept.
 */
export class AuthorityNormalizer {
  readonly #decoder = new HpackDecoder();
  #prefaceLeft = PREFACE.length;
  /** Bytes of a frame header, or of a HEADERS/CONTINUATION payload, not yet complete. */
  #pending: Buffer = Buffer.alloc(0);
  /** Payload bytes of the current pass-through frame still to come. */
  #passLeft = 0;
  /** The frame header waiting for its HEADERS/CONTINUATION payload. */
  #awaiting: { length: number; type: number; flags: number; streamId: number } | null = null;
  #block: OpenBlock | null = null;

  /** Takes the next bytes from the client; returns what to hand to the server. Throws ConnectionError. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    if (this.#prefaceLeft > 0) {
      const take = Math.min(this.#prefaceLeft, chunk.length);
      const offset = PREFACE.length - this.#prefaceLeft;
      if (!chunk.subarray(0, take).equals(PREFACE.subarray(offset, offset + take))) throw new ConnectionError('not an HTTP/2 client preface');
      out.push(chunk.subarray(0, take));
      this.#prefaceLeft -= take;
      at = take;
    }
    while (at < chunk.length) {
      if (this.#passLeft > 0) {
        const take = Math.min(this.#passLeft, chunk.length - at);
        out.push(chunk.subarray(at, at + take));
        this.#passLeft -= take;
        at += take;
        continue;
      }
      const need = this.#awaiting ? this.#awaiting.length : FRAME_HEADER;
      const take = Math.min(need - this.#pending.length, chunk.length - at);
      this.#pending = this.#pending.length === 0 ? chunk.subarray(at, at + take) : Buffer.concat([this.#pending, chunk.subarray(at, at + take)]);
      at += take;
      if (this.#pending.length < need) continue;
      const complete = this.#pending;
      this.#pending = Buffer.alloc(0);
      if (this.#awaiting) {
        const frame = this.#awaiting;
        this.#awaiting = null;
        this.#headerFrame(frame, complete, out);
      } else {
        this.#frameHeader(complete, out);
      }
    }
    return out;
  }

  #frameHeader(header: Buffer, out: Buffer[]): void {
    const length = header.readUIntBE(0, 3);
    const type = header[3];
    const flags = header[4];
    const streamId = header.readUInt32BE(5) & 0x7fffffff;
    if (this.#block && (type !== CONTINUATION || streamId !== this.#block.streamId)) {
      throw new ConnectionError('a header block was interrupted by another frame');
    }
    if (type !== HEADERS && type !== CONTINUATION) {
      out.push(header);
      this.#passLeft = length;
      return;
    }
    if (type === CONTINUATION && !this.#block) throw new ConnectionError('CONTINUATION without HEADERS');
    if (length > MAX_HEADER_BLOCK) throw new ConnectionError(`header frame of ${length} bytes`);
    const frame = { length, type, flags, streamId };
    if (length === 0) this.#headerFrame(frame, Buffer.alloc(0), out);
    else this.#awaiting = frame;
  }

  #headerFrame(frame: { type: number; flags: number; streamId: number }, payload: Buffer, out: Buffer[]): void {
    if (frame.type === HEADERS) {
      if (frame.streamId === 0) throw new ConnectionError('HEADERS on stream 0');
      let start = 0;
      let end = payload.length;
      if (frame.flags & PADDED) {
        if (payload.length < 1 || payload[0] >= payload.length) throw new ConnectionError('bad HEADERS padding');
        end -= payload[0];
        start = 1;
      }
      let priority: Buffer | null = null;
      if (frame.flags & PRIORITY) {
        if (end - start < 5) throw new ConnectionError('short HEADERS priority');
        priority = payload.subarray(start, start + 5);
        start += 5;
      }
      this.#block = { streamId: frame.streamId, flags: frame.flags, priority, fragments: [], size: 0 };
      payload = payload.subarray(start, end);
    }
    const block = this.#block!;
    block.fragments.push(payload);
    block.size += payload.length;
    if (block.size > MAX_HEADER_BLOCK) throw new ConnectionError(`header block larger than ${MAX_HEADER_BLOCK} bytes`);
    if (frame.flags & END_HEADERS) {
      this.#block = null;
      this.#emit(block, out);
    }
  }

  #emit(block: OpenBlock, out: Buffer[]): void {
    let fields: HeaderField[];
    try {
      fields = this.#decoder.decode(Buffer.concat(block.fragments), MAX_HEADER_BLOCK);
    } catch (err) {
      if (err instanceof HpackError) throw new ConnectionError(`HPACK: ${err.message}`);
      throw err;
    }
    if (fields.some((f) => f.name === ':method')) fields = withLocalAuthority(fields);
    const encoded = encodeLiterals(fields);
    const payload = block.priority ? Buffer.concat([block.priority, encoded]) : encoded;
    let type = HEADERS;
    let offset = 0;
    do {
      const piece = payload.subarray(offset, offset + MAX_FRAME);
      offset += piece.length;
      const flags = (type === HEADERS ? block.flags & (END_STREAM | PRIORITY) : 0) | (offset >= payload.length ? END_HEADERS : 0);
      out.push(frameHeader(piece.length, type, flags, block.streamId), piece);
      type = CONTINUATION;
    } while (offset < payload.length);
  }
}

/** The request's fields with `:authority: localhost` in place of any `:authority` or `host`. */
function withLocalAuthority(fields: HeaderField[]): HeaderField[] {
  const rest = fields.filter((f) => f.name !== ':authority' && f.name !== 'host');
  const pseudo = rest.filter((f) => f.name.startsWith(':'));
  const regular = rest.filter((f) => !f.name.startsWith(':'));
  return [...pseudo, { name: ':authority', value: LOCAL_AUTHORITY, sensitive: false }, ...regular];
}

function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const header = Buffer.alloc(FRAME_HEADER);
  header.writeUIntBE(length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return header;
}
