import assert from 'node:assert/strict';
import net from 'node:net';
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from '../../src/cri/authority/hpack-tables';
import { encodeLiterals, HpackDecoder, HpackError, type HeaderField } from '../../src/cri/authority/hpack';
import { AuthorityNormalizer, ConnectionError } from '../../src/cri/authority/normalizer';
import { TestImagegate } from '../support/cri-server';
import { ScriptedBackend } from './fixtures/scripted-backend';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const pairs = (fields: HeaderField[]) => fields.map((f) => [f.name, f.value]);

/** An HPACK string literal, Huffman-coded (RFC 7541 §5.2, Appendix B). */
function huffman(text: string): Buffer {
  let bits = 0n;
  let count = 0;
  for (const c of Buffer.from(text, 'latin1')) {
    bits = (bits << BigInt(HUFFMAN_LENGTHS[c])) | BigInt(HUFFMAN_CODES[c]);
    count += HUFFMAN_LENGTHS[c];
  }
  const pad = (8 - (count % 8)) % 8;
  bits = (bits << BigInt(pad)) | ((1n << BigInt(pad)) - 1n);
  const bytes = Buffer.from(bits.toString(16).padStart(((count + pad) / 8) * 2, '0'), 'hex');
  return Buffer.concat([Buffer.from([0x80 | bytes.length]), bytes]);
}

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}
const HEADERS = 1;
const CONTINUATION = 9;
const DATA = 0;
const END_STREAM = 1;
const END_HEADERS = 4;
const PADDED = 8;
const PRIORITY = 0x20;
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
/** A gRPC message frame holding an empty protobuf (ImageFsInfoRequest has no fields). */
const EMPTY_MESSAGE = frame(DATA, END_STREAM, 0, Buffer.alloc(5));
const dataFor = (streamId: number) => {
  const f = Buffer.from(EMPTY_MESSAGE);
  f.writeUInt32BE(streamId, 5);
  return f;
};

/**
 * A raw HTTP/2 client: sends hand-made frames and decodes what the server
 * (nghttp2 inside Node) answers with the decoder under test.
 */
class RawClient {
  readonly #decoder = new HpackDecoder();
  readonly #headers = new Map<number, Map<string, string>>();
  readonly #waiters = new Map<number, (fields: Map<string, string> | Error) => void>();
  #buffer = Buffer.alloc(0);
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
    socket.on('close', () => {
      this.closed = true;
      for (const wake of this.#waiters.values()) wake(new Error('connection closed'));
    });
    socket.on('error', () => undefined);
  }

  static async connect(path: string): Promise<RawClient> {
    const socket = net.connect(path);
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write(Buffer.concat([PREFACE, frame(4, 0, 0, Buffer.alloc(0))]));
    return new RawClient(socket);
  }

  send(...frames: Buffer[]): void {
    this.socket.write(Buffer.concat(frames));
  }

  /** Resolves with every header field the server sent on the stream once it ends it. */
  answer(streamId: number): Promise<Map<string, string>> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('connection closed'));
      this.#waiters.set(streamId, (r) => (r instanceof Error ? reject(r) : resolve(r)));
    });
  }

  close(): void {
    this.socket.destroy();
  }

  #read(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length >= 9) {
      const length = this.#buffer.readUIntBE(0, 3);
      if (this.#buffer.length < 9 + length) return;
      const [type, flags, streamId] = [this.#buffer[3], this.#buffer[4], this.#buffer.readUInt32BE(5) & 0x7fffffff];
      const payload = this.#buffer.subarray(9, 9 + length);
      this.#buffer = this.#buffer.subarray(9 + length);
      if (type === 4 && !(flags & 1)) this.socket.write(frame(4, 1, 0, Buffer.alloc(0)));
      if (type === 3) this.#waiters.get(streamId)?.(new Error(`RST_STREAM ${payload.readUInt32BE(0)}`));
      if (type === HEADERS) {
        const fields = this.#headers.get(streamId) ?? new Map<string, string>();
        for (const f of this.#decoder.decode(payload, 65_535)) fields.set(f.name, f.value);
        this.#headers.set(streamId, fields);
      }
      if ((type === HEADERS || type === DATA) && flags & END_STREAM) this.#waiters.get(streamId)?.(this.#headers.get(streamId) ?? new Map());
    }
  }
}

const request = (path = '/runtime.v1.ImageService/ImageFsInfo'): HeaderField[] =>
  [
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', path],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
  ].map(([name, value]) => ({ name, value, sensitive: false }));

describe('CRI socket: any :authority a client sends', () => {
  describe('HPACK decoding (RFC 7541 Appendix C)', () => {
    it('decodes C.3, three requests without Huffman coding that share the dynamic table', () => {
      const d = new HpackDecoder();
      assert.deepEqual(pairs(d.decode(hex('828684410f7777772e6578616d706c652e636f6d'), 4096)), [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']]);
      assert.deepEqual(pairs(d.decode(hex('828684be58086e6f2d6361636865'), 4096)).slice(3), [[':authority', 'www.example.com'], ['cache-control', 'no-cache']]);
      assert.deepEqual(pairs(d.decode(hex('828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565'), 4096)), [
        [':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value'],
      ]);
    });

    it('decodes C.4, the same requests Huffman-coded', () => {
      const d = new HpackDecoder();
      assert.deepEqual(pairs(d.decode(hex('828684418cf1e3c2e5f23a6ba0ab90f4ff'), 4096))[3], [':authority', 'www.example.com']);
      assert.deepEqual(pairs(d.decode(hex('828684be5886a8eb10649cbf'), 4096))[4], ['cache-control', 'no-cache']);
      assert.deepEqual(pairs(d.decode(hex('828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf'), 4096))[4], ['custom-key', 'custom-value']);
    });

    it('refuses malformed blocks', () => {
      const cases: Array<[string, string]> = [
        ['index beyond the table', 'be'],
        ['index 0', '80'],
        ['a size update above the advertised table size', '3fe21f'],
        ['a size update after a field', '823f01'],
        ['Huffman padding that is not all ones', '008118'], // 'a' = 00011, then 000 instead of 111
        ['truncated string', '0f0a61'],
        ['oversized integer', '0fffffffffff7f'],
      ];
      assert.deepEqual(pairs(new HpackDecoder().decode(hex('00811f0161'), 4096)), [['a', 'a']], 'the same string correctly padded');
      for (const [what, block] of cases) assert.throws(() => new HpackDecoder().decode(hex(block), 4096), HpackError, what);
      assert.throws(() => new HpackDecoder().decode(encodeLiterals([{ name: 'x', value: 'y'.repeat(100), sensitive: false }]), 64), HpackError, 'list over the cap');
    });

    it('re-encodes as literals that a fresh decoder reads back, sensitive fields kept never-indexed', () => {
      const fields: HeaderField[] = [...request(), { name: 'authorization', value: 'Bearer x', sensitive: true }];
      const block = encodeLiterals(fields);
      assert.deepEqual(new HpackDecoder().decode(block, 4096), fields);
    });
  });

  describe('the normaliser', () => {
    it('rewrites :authority to localhost, drops host, leaves trailers and other frames as they were', () => {
      const n = new AuthorityNormalizer();
      const fields = [...request(), { name: ':authority', value: '/run/imagegate/imagegate.sock', sensitive: false }, { name: 'host', value: 'x', sensitive: false }];
      const out = Buffer.concat(n.push(Buffer.concat([PREFACE, frame(HEADERS, END_HEADERS, 1, encodeLiterals(fields)), dataFor(1)])));
      assert.deepEqual(out.subarray(0, PREFACE.length), PREFACE);
      const headers = out.subarray(PREFACE.length);
      const decoded = new HpackDecoder().decode(headers.subarray(9, 9 + headers.readUIntBE(0, 3)), 4096);
      assert.equal(decoded.filter((f) => f.name === ':authority').map((f) => f.value).join(), 'localhost');
      assert.ok(!decoded.some((f) => f.name === 'host'));
      assert.ok(out.subarray(out.length - EMPTY_MESSAGE.length).equals(dataFor(1)));
      const trailers = [{ name: 'x-trailer', value: 'v', sensitive: false }];
      const again = Buffer.concat(n.push(frame(HEADERS, END_HEADERS | END_STREAM, 3, encodeLiterals(trailers))));
      assert.deepEqual(new HpackDecoder().decode(again.subarray(9), 4096), trailers);
      assert.equal(again[4], END_HEADERS | END_STREAM);
    });

    it('gives the same bytes whatever the chunking', () => {
      const input = Buffer.concat([PREFACE, frame(HEADERS, END_HEADERS, 1, encodeLiterals(request())), dataFor(1)]);
      const whole = Buffer.concat(new AuthorityNormalizer().push(input));
      const n = new AuthorityNormalizer();
      const byteByByte = Buffer.concat([...input].flatMap((b) => n.push(Buffer.from([b]))));
      assert.deepEqual(byteByByte, whole);
    });

    it('refuses a header block interrupted by another frame, and anything that is not HTTP/2', () => {
      const n = new AuthorityNormalizer();
      n.push(Buffer.concat([PREFACE, frame(HEADERS, 0, 1, encodeLiterals(request()))]));
      assert.throws(() => n.push(dataFor(1)), ConnectionError);
      assert.throws(() => new AuthorityNormalizer().push(Buffer.from('GET / HTTP/1.1\r\n\r\n')), ConnectionError);
    });
  });

  describe('through a real imagegate socket (nghttp2 behind)', () => {
    let gate: TestImagegate;
    before(async () => (gate = await TestImagegate.start(new ScriptedBackend(async () => 'unused'))));
    after(async () => gate.stop());

    it('answers a request with no :authority at all', async () => {
      const c = await RawClient.connect(gate.socket);
      try {
        c.send(frame(HEADERS, END_HEADERS, 1, encodeLiterals(request())), dataFor(1));
        assert.equal((await c.answer(1)).get('grpc-status'), '0');
      } finally {
        c.close();
      }
    });

    it('answers a Huffman-coded path authority, indexed, split over CONTINUATION frames with padding and priority, then reused from the dynamic table', async () => {
      const c = await RawClient.connect(gate.socket);
      try {
        const first = Buffer.concat([
          encodeLiterals(request()),
          Buffer.from([0x41]), // literal with incremental indexing, name = static :authority
          huffman('/run/imagegate/imagegate.sock'),
        ]);
        const padded = Buffer.concat([Buffer.from([3]), Buffer.from([0, 0, 0, 0, 15]), first.subarray(0, 10), Buffer.alloc(3)]);
        c.send(
          frame(HEADERS, PADDED | PRIORITY, 1, padded),
          frame(CONTINUATION, 0, 1, first.subarray(10, 20)),
          frame(CONTINUATION, END_HEADERS, 1, first.subarray(20)),
          dataFor(1),
        );
        assert.equal((await c.answer(1)).get('grpc-status'), '0');
        // A table size update, then the :authority by dynamic index 62 and the rest as literals.
        const second = Buffer.concat([Buffer.from([0x3f, 0xe1, 0x1f]), Buffer.from([0x80 | 62]), encodeLiterals(request())]);
        c.send(frame(HEADERS, END_HEADERS, 3, second), dataFor(3));
        assert.equal((await c.answer(3)).get('grpc-status'), '0');
      } finally {
        c.close();
      }
    });

    it('closes a connection that breaks HPACK and goes on serving the others', async () => {
      const bad = await RawClient.connect(gate.socket);
      bad.send(frame(HEADERS, END_HEADERS, 1, hex('be')), dataFor(1));
      await assert.rejects(bad.answer(1), /connection closed/);
      const good = await RawClient.connect(gate.socket);
      try {
        good.send(frame(HEADERS, END_HEADERS, 1, encodeLiterals(request())), dataFor(1));
        assert.equal((await good.answer(1)).get('grpc-status'), '0');
      } finally {
        good.close();
      }
    });
  });
});
