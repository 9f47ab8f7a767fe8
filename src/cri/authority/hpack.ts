import { HUFFMAN_CODES, HUFFMAN_LENGTHS, STATIC_TABLE } from './hpack-tables';

/**
 * One header field. Names and values are octet strings kept as latin1 text,
 * so every byte survives a decode and re-encode unchanged.
 */
export interface HeaderField {
  name: string;
  value: string;
  /** Sent as "never indexed" (RFC 7541 §6.2.3); kept so on re-encoding. */
  sensitive: boolean;
}

/** A malformed header block: the connection must be closed (RFC 7541 §2.3.3, §4.2, §5.2, §6.3). */
export class HpackError extends Error {}

/** RFC 7541 §4.1: every entry counts its name and value octets plus 32. */
const ENTRY_OVERHEAD = 32;

/**
 * An HPACK decoder for one direction of one HTTP/2 connection: it keeps the
 * dynamic table the peer's encoder keeps, so it must see every header block of
 * that direction, in order. Not safe to share between connections.
 */
export class HpackDecoder {
  /** Newest entry first, as HPACK indexes them. */
  readonly #dynamic: Array<readonly [string, string]> = [];
  #size = 0;
  #maxSize: number;

  /** `maxTableSize` is the SETTINGS_HEADER_TABLE_SIZE the decoding side advertised (4096 unless changed). */
  constructor(readonly maxTableSize = 4096) {
    this.#maxSize = maxTableSize;
  }

  /** Decodes a complete header block; `maxListSize` bounds the decoded list as RFC 7540 §6.5.2 counts it. */
  decode(block: Buffer, maxListSize: number): HeaderField[] {
    const fields: HeaderField[] = [];
    const cursor = { block, at: 0 };
    let listSize = 0;
    while (cursor.at < block.length) {
      const first = block[cursor.at];
      let field: HeaderField;
      if (first & 0x80) {
        const [name, value] = this.#entry(readInteger(cursor, 7));
        field = { name, value, sensitive: false };
      } else if ((first & 0xe0) === 0x20) {
        if (fields.length > 0) throw new HpackError('dynamic table size update after a header field');
        const size = readInteger(cursor, 5);
        if (size > this.maxTableSize) throw new HpackError(`dynamic table size ${size} above the advertised ${this.maxTableSize}`);
        this.#maxSize = size;
        this.#evict(0);
        continue;
      } else {
        const indexing = (first & 0xc0) === 0x40;
        const nameIndex = readInteger(cursor, indexing ? 6 : 4);
        const name = nameIndex === 0 ? readString(cursor) : this.#entry(nameIndex)[0];
        field = { name, value: readString(cursor), sensitive: (first & 0xf0) === 0x10 };
        if (indexing) this.#insert(field.name, field.value);
      }
      listSize += field.name.length + field.value.length + ENTRY_OVERHEAD;
      if (listSize > maxListSize) throw new HpackError(`header list larger than ${maxListSize} bytes`);
      fields.push(field);
    }
    return fields;
  }

  #entry(index: number): readonly [string, string] {
    if (index === 0) throw new HpackError('index 0');
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1];
    const entry = this.#dynamic[index - STATIC_TABLE.length - 1];
    if (!entry) throw new HpackError(`index ${index} beyond the table`);
    return entry;
  }

  #insert(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    this.#evict(size);
    if (size > this.#maxSize) return; // §4.4: an entry larger than the table empties it
    this.#dynamic.unshift([name, value]);
    this.#size += size;
  }

  /** Evicts the oldest entries until `room` more octets fit. */
  #evict(room: number): void {
    while (this.#dynamic.length > 0 && this.#size + room > this.#maxSize) {
      const [name, value] = this.#dynamic.pop()!;
      this.#size -= name.length + value.length + ENTRY_OVERHEAD;
    }
  }
}

/**
 * Encodes header fields without touching the peer's dynamic table: each field
 * is a literal "without indexing" (or "never indexed" when sensitive), its
 * name by static index where the static table has it. The decoding side's
 * table therefore stays as it was, whatever it was.
 */
export function encodeLiterals(fields: readonly HeaderField[]): Buffer {
  const out: number[] = [];
  for (const { name, value, sensitive } of fields) {
    const nameIndex = STATIC_NAMES.get(name) ?? 0;
    writeInteger(out, nameIndex, 4, sensitive ? 0x10 : 0x00);
    if (nameIndex === 0) writeString(out, name);
    writeString(out, value);
  }
  return Buffer.from(out);
}

const STATIC_NAMES = new Map<string, number>();
STATIC_TABLE.forEach(([name], i) => {
  if (!STATIC_NAMES.has(name)) STATIC_NAMES.set(name, i + 1);
});

interface Cursor {
  block: Buffer;
  at: number;
}

/** RFC 7541 §5.1. Values beyond 2^28 are refused: no header block needs them. */
function readInteger(cursor: Cursor, prefixBits: number): number {
  const max = (1 << prefixBits) - 1;
  let value = cursor.block[cursor.at++] & max;
  if (value < max) return value;
  for (let shift = 0; ; shift += 7) {
    if (cursor.at >= cursor.block.length) throw new HpackError('truncated integer');
    if (shift > 21) throw new HpackError('integer too large');
    const byte = cursor.block[cursor.at++];
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return value;
  }
}

function writeInteger(out: number[], value: number, prefixBits: number, flags: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(flags | value);
    return;
  }
  out.push(flags | max);
  for (value -= max; value >= 0x80; value = Math.floor(value / 0x80)) out.push((value % 0x80) | 0x80);
  out.push(value);
}

/** RFC 7541 §5.2: a length-prefixed octet string, Huffman-coded when its H bit is set. */
function readString(cursor: Cursor): string {
  if (cursor.at >= cursor.block.length) throw new HpackError('truncated string');
  const huffman = (cursor.block[cursor.at] & 0x80) !== 0;
  const length = readInteger(cursor, 7);
  const end = cursor.at + length;
  if (end > cursor.block.length) throw new HpackError('truncated string');
  const raw = cursor.block.subarray(cursor.at, end);
  cursor.at = end;
  return huffman ? huffmanDecode(raw) : raw.toString('latin1');
}

function writeString(out: number[], value: string): void {
  writeInteger(out, value.length, 7, 0x00);
  for (let i = 0; i < value.length; i++) out.push(value.charCodeAt(i) & 0xff);
}

/**
 * The Huffman code as a binary tree in flat arrays: node n's children are
 * `CHILD[2n]` (bit 0) and `CHILD[2n+1]` (bit 1); a negative child is a leaf
 * holding `-(symbol + 1)`, symbol 256 being EOS.
 */
const CHILD = buildTree();

function buildTree(): Int32Array {
  const codes = [...HUFFMAN_CODES, 0x3fffffff];
  const lengths = [...HUFFMAN_LENGTHS, 30];
  const child = new Int32Array(2 * 512);
  let nodes = 1;
  codes.forEach((code, symbol) => {
    let node = 0;
    for (let bit = lengths[symbol] - 1; bit >= 0; bit--) {
      const slot = 2 * node + ((code >>> bit) & 1);
      if (bit === 0) child[slot] = -(symbol + 1);
      else node = child[slot] > 0 ? child[slot] : (child[slot] = nodes++);
    }
  });
  return child;
}

/** RFC 7541 §5.2: padding must be at most 7 bits, all ones (a prefix of EOS); EOS itself is an error. */
function huffmanDecode(raw: Buffer): string {
  let out = '';
  let node = 0;
  let depth = 0;
  let onesOnly = true;
  for (const byte of raw) {
    for (let bit = 7; bit >= 0; bit--) {
      const one = (byte >>> bit) & 1;
      const next = CHILD[2 * node + one];
      if (next < 0) {
        if (next === -257) throw new HpackError('EOS in a Huffman string');
        out += String.fromCharCode(-next - 1);
        node = 0;
        depth = 0;
        onesOnly = true;
      } else {
        if (next === 0) throw new HpackError('invalid Huffman code');
        node = next;
        depth++;
        onesOnly &&= one === 1;
      }
    }
  }
  if (depth > 7 || !onesOnly) throw new HpackError('invalid Huffman padding');
  return out;
}
