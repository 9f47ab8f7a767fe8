/**
 * A tiny protobuf wire-format walker: enough to find the top-level fields of
 * a message, drop one of them and append a replacement, without decoding (and
 * so without losing) anything else. Used to forward kubelet's PullImage bytes
 * with only `auth` changed. https://protobuf.dev/programming-guides/encoding/
 */

/** Wire types of the protobuf encoding. Groups (3, 4) do not occur in proto3. */
export const WireType = { varint: 0, fixed64: 1, lengthDelimited: 2, fixed32: 5 } as const;

/** One top-level field occurrence: its number, wire type and the byte range it spans, tag included. */
export interface WireField {
  number: number;
  wireType: number;
  /** Offset of the tag. */
  start: number;
  /** Offset of the payload (after the tag and, for length-delimited fields, the length). */
  valueStart: number;
  /** Offset just past the field. */
  end: number;
}

/** The bytes are not a well-formed protobuf message. */
export class WireFormatError extends Error {
  override readonly name = 'WireFormatError';
}

/** Reads a varint at `pos`; values above 2^53 lose precision, which tags and lengths never reach. */
export function readVarint(buf: Uint8Array, pos: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= buf.length) throw new WireFormatError(`truncated varint at offset ${pos}`);
    const byte = buf[pos + i];
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) return { value, next: pos + i + 1 };
  }
  throw new WireFormatError(`varint longer than 10 bytes at offset ${pos}`);
}

/** Encodes a non-negative integer (up to 2^53) as a varint. */
export function encodeVarint(value: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`cannot encode ${value} as a varint`);
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
  return Buffer.from(out);
}

/** Every top-level field of a message, in wire order. Throws WireFormatError on malformed input. */
export function walkFields(buf: Uint8Array): WireField[] {
  const fields: WireField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    const tag = readVarint(buf, pos);
    const number = Math.floor(tag.value / 8);
    const wireType = tag.value % 8;
    if (number < 1) throw new WireFormatError(`field number 0 at offset ${start}`);
    pos = tag.next;
    let valueStart = pos;
    switch (wireType) {
      case WireType.varint:
        pos = readVarint(buf, pos).next;
        break;
      case WireType.fixed64:
        pos += 8;
        break;
      case WireType.fixed32:
        pos += 4;
        break;
      case WireType.lengthDelimited: {
        const length = readVarint(buf, pos);
        valueStart = length.next;
        pos = length.next + length.value;
        break;
      }
      default:
        throw new WireFormatError(`unsupported wire type ${wireType} at offset ${start}`);
    }
    if (pos > buf.length) throw new WireFormatError(`field ${number} at offset ${start} runs past the end`);
    fields.push({ number, wireType, start, valueStart, end: pos });
  }
  return fields;
}

/** The message with every occurrence of field `number` removed; all other bytes kept in order. */
export function withoutField(buf: Uint8Array, number: number): Buffer {
  const kept = walkFields(buf)
    .filter((f) => f.number !== number)
    .map((f) => buf.subarray(f.start, f.end));
  return Buffer.concat(kept);
}

/** Encodes one length-delimited field (a string, bytes or an embedded message). */
export function lengthDelimited(number: number, payload: Uint8Array | string): Buffer {
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  return Buffer.concat([encodeVarint(number * 8 + WireType.lengthDelimited), encodeVarint(bytes.length), bytes]);
}
