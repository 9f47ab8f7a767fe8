/**
 * D-Bus wire format (little-endian), for the few signatures the patcher
 * needs: basic types, strings, object paths, signatures, variants, arrays,
 * structs and dict entries. See the D-Bus specification, "Marshaling".
 */

/** A variant value: its signature and the value of that type. */
export interface Variant {
  signature: string;
  value: unknown;
}

const ALIGN: Record<string, number> = { y: 1, b: 4, n: 2, q: 2, i: 4, u: 4, x: 8, t: 8, d: 8, h: 4, s: 4, o: 4, g: 1, v: 1, a: 4, '(': 8, '{': 8 };

/** Splits a signature into its complete types: `sa{sv}(ou)` → `s`, `a{sv}`, `(ou)`. */
export function splitSignature(signature: string): string[] {
  const types: string[] = [];
  let i = 0;
  while (i < signature.length) {
    const end = completeTypeEnd(signature, i);
    types.push(signature.slice(i, end));
    i = end;
  }
  return types;
}

function completeTypeEnd(sig: string, start: number): number {
  const c = sig[start];
  if (c === 'a') return completeTypeEnd(sig, start + 1);
  if (c === '(' || c === '{') {
    const close = c === '(' ? ')' : '}';
    let i = start + 1;
    while (sig[i] !== close) {
      if (i >= sig.length) throw new Error(`bad D-Bus signature "${sig}"`);
      i = completeTypeEnd(sig, i);
    }
    return i + 1;
  }
  if (!(c in ALIGN)) throw new Error(`unsupported D-Bus type "${c}" in "${sig}"`);
  return start + 1;
}

/** Writes values into a growing buffer, aligning relative to the message start. */
export class Writer {
  private buf = Buffer.alloc(256);
  length = 0;

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  align(n: number): void {
    const pad = (n - (this.length % n)) % n;
    this.ensure(pad);
    this.buf.fill(0, this.length, this.length + pad);
    this.length += pad;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  setUint32(offset: number, value: number): void {
    this.buf.writeUInt32LE(value, offset);
  }

  /** Writes `values` with the signature `signature` (one value per complete type). */
  write(signature: string, values: unknown[]): void {
    const types = splitSignature(signature);
    if (types.length !== values.length) throw new Error(`signature "${signature}" needs ${types.length} values, got ${values.length}`);
    types.forEach((t, i) => this.writeOne(t, values[i]));
  }

  private writeOne(type: string, value: unknown): void {
    const c = type[0];
    this.align(ALIGN[c]);
    switch (c) {
      case 'y': this.ensure(1); this.buf.writeUInt8(Number(value), this.length); this.length += 1; return;
      case 'b': this.u32(value ? 1 : 0); return;
      case 'n': this.ensure(2); this.buf.writeInt16LE(Number(value), this.length); this.length += 2; return;
      case 'q': this.ensure(2); this.buf.writeUInt16LE(Number(value), this.length); this.length += 2; return;
      case 'i': case 'h': this.ensure(4); this.buf.writeInt32LE(Number(value), this.length); this.length += 4; return;
      case 'u': this.u32(Number(value)); return;
      case 'x': this.ensure(8); this.buf.writeBigInt64LE(BigInt(value as number), this.length); this.length += 8; return;
      case 't': this.ensure(8); this.buf.writeBigUInt64LE(BigInt(value as number), this.length); this.length += 8; return;
      case 'd': this.ensure(8); this.buf.writeDoubleLE(Number(value), this.length); this.length += 8; return;
      case 's': case 'o': { const b = Buffer.from(String(value), 'utf8'); this.u32(b.length); this.raw(b); this.raw(Buffer.of(0)); return; }
      case 'g': { const b = Buffer.from(String(value), 'utf8'); this.writeOne('y', b.length); this.raw(b); this.raw(Buffer.of(0)); return; }
      case 'v': { const v = value as Variant; this.writeOne('g', v.signature); this.writeOne(v.signature, v.value); return; }
      case 'a': return this.writeArray(type.slice(1), value as unknown[]);
      case '(': case '{': return this.write(type.slice(1, -1), value as unknown[]);
    }
  }

  private writeArray(elem: string, items: unknown[]): void {
    const lengthAt = this.length;
    this.u32(0);
    this.align(ALIGN[elem[0]]);
    const start = this.length;
    for (const item of items) this.writeOne(elem, item);
    this.setUint32(lengthAt, this.length - start);
  }

  private u32(n: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(n >>> 0, this.length);
    this.length += 4;
  }

  private raw(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.length);
    this.length += b.length;
  }
}

/** Reads values from a complete message buffer; offsets are relative to the message start. */
export class Reader {
  constructor(private readonly buf: Buffer, public offset = 0) {}

  align(n: number): void {
    this.offset += (n - (this.offset % n)) % n;
  }

  /** Reads one value per complete type in `signature`. */
  read(signature: string): unknown[] {
    return splitSignature(signature).map((t) => this.readOne(t));
  }

  private readOne(type: string): unknown {
    const c = type[0];
    this.align(ALIGN[c]);
    const b = this.buf;
    const at = this.offset;
    if (at > b.length) throw new Error('truncated D-Bus message');
    switch (c) {
      case 'y': this.offset += 1; return b.readUInt8(at);
      case 'b': this.offset += 4; return b.readUInt32LE(at) !== 0;
      case 'n': this.offset += 2; return b.readInt16LE(at);
      case 'q': this.offset += 2; return b.readUInt16LE(at);
      case 'i': case 'h': this.offset += 4; return b.readInt32LE(at);
      case 'u': this.offset += 4; return b.readUInt32LE(at);
      case 'x': this.offset += 8; return b.readBigInt64LE(at);
      case 't': this.offset += 8; return b.readBigUInt64LE(at);
      case 'd': this.offset += 8; return b.readDoubleLE(at);
      case 's': case 'o': { const n = b.readUInt32LE(at); this.offset = at + 4 + n + 1; return b.toString('utf8', at + 4, at + 4 + n); }
      case 'g': { const n = b.readUInt8(at); this.offset = at + 1 + n + 1; return b.toString('utf8', at + 1, at + 1 + n); }
      case 'v': { const signature = this.readOne('g') as string; return { signature, value: this.readOne(signature) } satisfies Variant; }
      case 'a': return this.readArray(type.slice(1));
      case '(': case '{': return this.read(type.slice(1, -1));
    }
    throw new Error(`unsupported D-Bus type "${c}"`);
  }

  private readArray(elem: string): unknown[] {
    const n = this.readOne('u') as number;
    this.align(ALIGN[elem[0]]);
    const end = this.offset + n;
    const items: unknown[] = [];
    while (this.offset < end) items.push(this.readOne(elem));
    return items;
  }
}
