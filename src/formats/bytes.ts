/** @module formats/bytes
 * Little-endian cursor reader and growable writer over bytes, used by the GGUF and safetensors codecs.
 * The reader throws `TruncatedInputError` (code `TRUNCATED`) when a read would pass the end of its bytes, so a
 * caller holding only a prefix of a file can fetch more and retry (gguf.ts's streaming header reader does).
 */
import { FormatError } from "./errors.ts";

export class TruncatedInputError extends FormatError<"TRUNCATED"> {
  constructor(what: string, needed: number, available: number) {
    super("TRUNCATED", `truncated input: ${what} needs ${needed} bytes at this point, only ${available} remain`);
  }
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: false });
const utf8Encoder = new TextEncoder();

export class ByteReader {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  offset: number;

  constructor(bytes: Uint8Array, offset = 0) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = offset;
  }

  get remaining(): number {
    return this.bytes.byteLength - this.offset;
  }

  private need(n: number, what: string): number {
    if (n < 0 || this.offset + n > this.bytes.byteLength) throw new TruncatedInputError(what, n, this.remaining);
    const at = this.offset;
    this.offset += n;
    return at;
  }

  u8(): number { return this.view.getUint8(this.need(1, "u8")); }
  i8(): number { return this.view.getInt8(this.need(1, "i8")); }
  u16(): number { return this.view.getUint16(this.need(2, "u16"), true); }
  i16(): number { return this.view.getInt16(this.need(2, "i16"), true); }
  u32(): number { return this.view.getUint32(this.need(4, "u32"), true); }
  i32(): number { return this.view.getInt32(this.need(4, "i32"), true); }
  f32(): number { return this.view.getFloat32(this.need(4, "f32"), true); }
  f64(): number { return this.view.getFloat64(this.need(8, "f64"), true); }
  u64(): bigint { return this.view.getBigUint64(this.need(8, "u64"), true); }
  i64(): bigint { return this.view.getBigInt64(this.need(8, "i64"), true); }

  /** A u64 that must fit a JS number exactly (counts, lengths, offsets). */
  u64Number(what: string): number {
    const value = this.u64();
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new FormatError("VALUE_OUT_OF_RANGE", `${what} = ${value} exceeds the largest exact integer`);
    }
    return Number(value);
  }

  take(n: number, what = "bytes"): Uint8Array {
    const at = this.need(n, what);
    return this.bytes.subarray(at, at + n);
  }

  utf8(n: number, what = "string"): string {
    return utf8Decoder.decode(this.take(n, what));
  }
}

export class ByteWriter {
  private buffer: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initialCapacity = 1024) {
    this.buffer = new Uint8Array(initialCapacity);
    this.view = new DataView(this.buffer.buffer);
  }

  private reserve(n: number): number {
    if (this.length + n > this.buffer.byteLength) {
      let capacity = this.buffer.byteLength * 2;
      while (capacity < this.length + n) capacity *= 2;
      const next = new Uint8Array(capacity);
      next.set(this.buffer.subarray(0, this.length));
      this.buffer = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  u8(v: number): this { const at = this.reserve(1); this.view.setUint8(at, v); return this; }
  i8(v: number): this { const at = this.reserve(1); this.view.setInt8(at, v); return this; }
  u16(v: number): this { const at = this.reserve(2); this.view.setUint16(at, v, true); return this; }
  i16(v: number): this { const at = this.reserve(2); this.view.setInt16(at, v, true); return this; }
  u32(v: number): this { const at = this.reserve(4); this.view.setUint32(at, v, true); return this; }
  i32(v: number): this { const at = this.reserve(4); this.view.setInt32(at, v, true); return this; }
  f32(v: number): this { const at = this.reserve(4); this.view.setFloat32(at, v, true); return this; }
  f64(v: number): this { const at = this.reserve(8); this.view.setFloat64(at, v, true); return this; }
  u64(v: number | bigint): this { const at = this.reserve(8); this.view.setBigUint64(at, BigInt(v), true); return this; }
  i64(v: number | bigint): this { const at = this.reserve(8); this.view.setBigInt64(at, BigInt(v), true); return this; }

  bytes(data: Uint8Array): this {
    const at = this.reserve(data.byteLength);
    this.buffer.set(data, at);
    return this;
  }

  /** Writes UTF-8 bytes without a length prefix; returns the byte count written. */
  utf8(text: string): number {
    const encoded = utf8Encoder.encode(text);
    this.bytes(encoded);
    return encoded.byteLength;
  }

  /** Zero bytes up to the next multiple of `alignment`. */
  padTo(alignment: number): this {
    const pad = (alignment - (this.length % alignment)) % alignment;
    this.reserve(pad);
    this.buffer.fill(0, this.length - pad, this.length);
    return this;
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

export function encodeUtf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}
