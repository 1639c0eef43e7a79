/** @module formats/gguf
 * The GGUF container (llama.cpp `gguf.h` / `ggml.h`; versions 1, 2, 3; little-endian): its constants and the one
 * header reader, over bytes in memory (`parseGgufHeader`) or streamed (`readGgufHeader`, `readGgufHeaderFromFile`).
 *
 * Layout: magic `GGUF`, u32 version, tensor count, metadata count (u32 in v1, u64 in v2/v3), metadata key/value
 * pairs, tensor infos (name, u32 n_dims, dims, u32 ggml type, u64 offset), then the data section at the next
 * multiple of `general.alignment` (default 32); tensor offsets are relative to it. Strings and array counts are
 * u32 in v1 and u64 later.
 *
 * Contracts:
 * - Metadata values: u64 / i64 read as bigint, other numbers as number, bool as boolean (a byte other than 0 or 1
 *   is BAD_VALUE_TYPE), arrays as JS arrays; a duplicate key or tensor name is DUPLICATE_NAME.
 * - Tensor infos are read only for the types whose byte size this module knows (F32, F16, BF16, Q8_0, Q4_0); any other
 *   type is UNSUPPORTED_TENSOR_TYPE, named. `metadataOnly` stops after the metadata (no tensor infos read).
 * - The streaming reader reads the header one item (the preamble, one key/value pair, one tensor info) at a time;
 *   it holds the item being read and reads past the header's end by at most one refill (64 KiB or the size of
 *   the item being read, in whole chunks of the source): a multi-GB file is never read whole nor held. A source
 *   that ends inside the header is TRUNCATED, naming the byte; `maxHeaderBytes` bounds what it reads
 *   (HEADER_TOO_LARGE). The in-memory parser throws `TruncatedInputError` instead, so a caller with a prefix can
 *   retry with more bytes.
 */
import { createReadStream } from "node:fs";
import { ByteReader, TruncatedInputError } from "./bytes.ts";
import { FormatError } from "./errors.ts";

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const GGUF_DEFAULT_ALIGNMENT = 32;

export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;
export type GgufValueType = (typeof GgufValueType)[keyof typeof GgufValueType];

/** ggml tensor types whose sizes this module knows (others are rejected by name). */
export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q8_0: 8,
  BF16: 30,
} as const;
export type GgmlType = (typeof GgmlType)[keyof typeof GgmlType];

export const GGML_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K",
  12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S",
  20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64",
  29: "IQ1_M", 30: "BF16",
};

/** Q8_0: blocks of 32 values, each an f16 scale followed by 32 int8 quants (34 bytes). */
export const Q8_0_BLOCK = 32;
export const Q8_0_BLOCK_BYTES = 34;
/** Q4_0: blocks of 32 values, an f16 scale and 16 bytes: element j in the low nibble of byte j, j + 16 in its high
 *  nibble, each stored + 8 (18 bytes). */
export const Q4_0_BLOCK = 32;
export const Q4_0_BLOCK_BYTES = 18;

export function isSupportedGgmlType(type: number): type is GgmlType {
  return type === GgmlType.F32 || type === GgmlType.F16 || type === GgmlType.Q8_0 || type === GgmlType.Q4_0 || type === GgmlType.BF16;
}

/** Bytes occupied by `count` values of `type` (count a multiple of the block size for block types). */
export function ggmlTensorBytes(type: GgmlType, count: number): number {
  switch (type) {
    case GgmlType.F32:
      return count * 4;
    case GgmlType.F16:
    case GgmlType.BF16:
      return count * 2;
    case GgmlType.Q8_0:
      return (count / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
    case GgmlType.Q4_0:
      return (count / Q4_0_BLOCK) * Q4_0_BLOCK_BYTES;
    default:
      throw new FormatError("UNREACHABLE_CASE", `unreachable ggml type ${String(type satisfies never)}`);
  }
}

export type GgufFormatErrorCode =
  | "BAD_MAGIC"
  | "UNSUPPORTED_VERSION"
  | "BAD_VALUE_TYPE"
  | "BAD_ALIGNMENT"
  | "UNSUPPORTED_TENSOR_TYPE"
  | "BAD_TENSOR_INFO"
  | "DUPLICATE_NAME"
  | "TRUNCATED"
  | "HEADER_TOO_LARGE";

export class GgufFormatError extends FormatError<GgufFormatErrorCode> {}

export type GgufScalar = number | bigint | boolean | string;
/** Metadata value: u64/i64 read as bigint, other numbers as number, arrays as JS arrays. */
export type GgufValue = GgufScalar | GgufValue[];

export interface GgufTensorInfo {
  readonly name: string;
  /** ggml order: dims[0] = ne0 (innermost, contiguous). */
  readonly dims: readonly number[];
  readonly type: GgmlType;
  /** Offset relative to the data section. */
  readonly offset: number;
  readonly elementCount: number;
  readonly byteLength: number;
}

export interface GgufHeader {
  readonly version: 1 | 2 | 3;
  /** The tensor count the file declares (also with `metadataOnly`, when `tensors` stays empty). */
  readonly tensorCount: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  /** Absolute file offset of the data section (with `metadataOnly`: of the end of the metadata). */
  readonly dataOffset: number;
}

export interface GgufHeaderOptions {
  /** Stop after the metadata: no tensor infos are read (`tensors` is empty). */
  readonly metadataOnly?: boolean;
}

export interface GgufStreamOptions extends GgufHeaderOptions {
  /** Most header bytes read before HEADER_TOO_LARGE (default: unbounded). */
  readonly maxHeaderBytes?: number;
}

/** What the header items read so far hold. Each step reads one item and commits it only once it is whole. */
interface HeaderState {
  version: 1 | 2 | 3;
  tensorCount: number;
  kvCount: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  tensorNames: Set<string>;
  alignment: number;
}

function readLength(reader: ByteReader, version: number, what: string): number {
  return version === 1 ? reader.u32() : reader.u64Number(what);
}

function readString(reader: ByteReader, version: number, what: string): string {
  return reader.utf8(readLength(reader, version, `${what} length`), what);
}

function readValue(reader: ByteReader, type: number, version: number, key: string): GgufValue {
  switch (type) {
    case GgufValueType.UINT8: return reader.u8();
    case GgufValueType.INT8: return reader.i8();
    case GgufValueType.UINT16: return reader.u16();
    case GgufValueType.INT16: return reader.i16();
    case GgufValueType.UINT32: return reader.u32();
    case GgufValueType.INT32: return reader.i32();
    case GgufValueType.FLOAT32: return reader.f32();
    case GgufValueType.BOOL: {
      const byte = reader.u8();
      if (byte > 1) throw new GgufFormatError("BAD_VALUE_TYPE", `metadata ${key}: bool byte ${byte} is neither 0 nor 1`);
      return byte === 1;
    }
    case GgufValueType.STRING: return readString(reader, version, `metadata ${key}`);
    case GgufValueType.UINT64: return reader.u64();
    case GgufValueType.INT64: return reader.i64();
    case GgufValueType.FLOAT64: return reader.f64();
    case GgufValueType.ARRAY: {
      const elementType = reader.u32();
      if (elementType === GgufValueType.ARRAY && version === 1) {
        throw new GgufFormatError("BAD_VALUE_TYPE", `metadata ${key}: nested arrays are not valid in GGUF v1`);
      }
      const count = readLength(reader, version, `metadata ${key} array count`);
      // Every element takes at least one byte: a count beyond the bytes at hand needs more of them.
      if (count > reader.remaining) throw new TruncatedInputError(`metadata ${key} array of ${count}`, count, reader.remaining);
      const values: GgufValue[] = new Array(count);
      for (let i = 0; i < count; i++) values[i] = readValue(reader, elementType, version, key);
      return values;
    }
    default:
      throw new GgufFormatError("BAD_VALUE_TYPE", `metadata ${key}: unknown value type ${type}`);
  }
}

function readPreamble(reader: ByteReader, state: HeaderState): void {
  const magic = reader.u32();
  if (magic !== GGUF_MAGIC) {
    throw new GgufFormatError("BAD_MAGIC", `not a GGUF file: magic 0x${magic.toString(16).padStart(8, "0")}, expected "GGUF"`);
  }
  const rawVersion = reader.u32();
  if (rawVersion !== 1 && rawVersion !== 2 && rawVersion !== 3) {
    const bigEndian = (rawVersion & 0xffffff) === 0 && rawVersion >>> 24 >= 1 && rawVersion >>> 24 <= 3;
    const hint = bigEndian ? " (a big-endian GGUF; only little-endian is supported)" : "";
    throw new GgufFormatError("UNSUPPORTED_VERSION", `GGUF version ${rawVersion} is not supported${hint}; versions 1, 2 and 3 are`);
  }
  const version = rawVersion as 1 | 2 | 3;
  const tensorCount = readLength(reader, version, "tensor count");
  const kvCount = readLength(reader, version, "metadata count");
  Object.assign(state, { version, tensorCount, kvCount });
}

function readKeyValue(reader: ByteReader, state: HeaderState, index: number): void {
  const key = readString(reader, state.version, `metadata key ${index}`);
  const type = reader.u32();
  if (state.metadata.has(key)) throw new GgufFormatError("DUPLICATE_NAME", `metadata key ${key} appears twice`);
  state.metadata.set(key, readValue(reader, type, state.version, key));
}

function resolveAlignment(state: HeaderState): void {
  const value = state.metadata.get("general.alignment");
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0 || (value & (value - 1)) !== 0) {
    throw new GgufFormatError("BAD_ALIGNMENT", `general.alignment must be a power-of-two integer, got ${String(value)}`);
  }
  state.alignment = value;
}

function readTensorInfo(reader: ByteReader, state: HeaderState, index: number): void {
  const { version, alignment } = state;
  const name = readString(reader, version, `tensor ${index} name`);
  if (state.tensorNames.has(name)) throw new GgufFormatError("DUPLICATE_NAME", `tensor ${name} appears twice`);
  const nDims = reader.u32();
  if (nDims < 1 || nDims > 4) throw new GgufFormatError("BAD_TENSOR_INFO", `tensor ${name} has ${nDims} dimensions, expected 1 to 4`);
  const dims: number[] = [];
  for (let d = 0; d < nDims; d++) dims.push(readLength(reader, version, `tensor ${name} dim ${d}`));
  const type = reader.u32();
  const offset = reader.u64Number(`tensor ${name} offset`);
  if (!isSupportedGgmlType(type)) {
    const typeName = GGML_TYPE_NAMES[type] ?? `unknown type ${type}`;
    throw new GgufFormatError("UNSUPPORTED_TENSOR_TYPE", `tensor ${name} has ggml type ${typeName}; supported are F32, F16, BF16, Q8_0 and Q4_0`);
  }
  const elementCount = dims.reduce((a, b) => a * b, 1);
  if ((type === GgmlType.Q8_0 || type === GgmlType.Q4_0) && dims[0] % Q8_0_BLOCK !== 0) {
    throw new GgufFormatError("BAD_TENSOR_INFO", `tensor ${name}: ${GGML_TYPE_NAMES[type]} needs ne0 (${dims[0]}) to be a multiple of ${Q8_0_BLOCK}`);
  }
  if (offset % alignment !== 0) {
    throw new GgufFormatError("BAD_ALIGNMENT", `tensor ${name} offset ${offset} is not a multiple of the alignment ${alignment}`);
  }
  state.tensorNames.add(name);
  state.tensors.push({ name, dims, type, offset, elementCount, byteLength: ggmlTensorBytes(type, elementCount) });
}

/** The header's items in file order, each a step that reads one whole item from a reader positioned at it. */
function* headerSteps(state: HeaderState, options: GgufHeaderOptions): Generator<(reader: ByteReader) => void, void, void> {
  yield (reader) => readPreamble(reader, state);
  for (let i = 0; i < state.kvCount; i++) yield (reader) => readKeyValue(reader, state, i);
  resolveAlignment(state);
  if (options.metadataOnly) return;
  for (let i = 0; i < state.tensorCount; i++) yield (reader) => readTensorInfo(reader, state, i);
}

function newState(): HeaderState {
  return { version: 1, tensorCount: 0, kvCount: 0, metadata: new Map(), tensors: [], tensorNames: new Set(), alignment: GGUF_DEFAULT_ALIGNMENT };
}

function finish(state: HeaderState, end: number, options: GgufHeaderOptions): GgufHeader {
  const { version, tensorCount, metadata, tensors, alignment } = state;
  const dataOffset = options.metadataOnly ? end : Math.ceil(end / alignment) * alignment;
  return { version, tensorCount, metadata, tensors, alignment, dataOffset };
}

/** Parses the header from a prefix of the file. Throws `TruncatedInputError` (code TRUNCATED) when the prefix ends
 *  inside the header, so the caller can retry with more bytes. */
export function parseGgufHeader(bytes: Uint8Array, options: GgufHeaderOptions = {}): GgufHeader {
  const reader = new ByteReader(bytes);
  const state = newState();
  for (const step of headerSteps(state, options)) step(reader);
  return finish(state, reader.offset, options);
}

/** Smallest amount a refill adds to the window. */
const MIN_REFILL_BYTES = 64 * 1024;

/** The bytes of a stream from `start` on, pulled as the header steps need them. */
class StreamWindow {
  private window: Uint8Array = new Uint8Array(0);
  /** Absolute offset of window[0]. */
  start = 0;
  private ended = false;
  private readonly chunks: AsyncIterator<Uint8Array>;

  constructor(source: AsyncIterable<Uint8Array>, private readonly maxBytes: number) {
    this.chunks = source[Symbol.asyncIterator]();
  }

  /** Runs `step` on the window; while it runs out of bytes, grows the window (at least doubling it) and reruns it. */
  async run(step: (reader: ByteReader) => void): Promise<void> {
    for (;;) {
      const reader = new ByteReader(this.window);
      try {
        step(reader);
        this.start += reader.offset;
        this.window = this.window.subarray(reader.offset);
        return;
      } catch (error) {
        if (!(error instanceof TruncatedInputError)) throw error;
        const end = this.start + this.window.byteLength;
        if (this.ended) throw new GgufFormatError("TRUNCATED", `GGUF header runs past end of file at byte ${end} (${error.message})`, { cause: error });
        if (end >= this.maxBytes) throw new GgufFormatError("HEADER_TOO_LARGE", `GGUF header is larger than ${this.maxBytes} bytes`);
        const wanted = Math.max(this.window.byteLength * 2, this.window.byteLength + MIN_REFILL_BYTES);
        await this.grow(Math.min(wanted, this.maxBytes - this.start));
      }
    }
  }

  private async grow(target: number): Promise<void> {
    const parts: Uint8Array[] = [this.window];
    let length = this.window.byteLength;
    while (length < target) {
      const next = await this.chunks.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      parts.push(next.value);
      length += next.value.byteLength;
    }
    const joined = new Uint8Array(length);
    let at = 0;
    for (const part of parts) {
      joined.set(part, at);
      at += part.byteLength;
    }
    this.window = joined;
  }

  /** Stops reading the source (a file stream closes). */
  async close(): Promise<void> {
    await this.chunks.return?.();
  }
}

/** Reads the header from the start of a byte stream (a file read stream, an object-store download), pulling only
 *  the bytes it needs; the stream is released (its iterator returned) whatever happens. */
export async function readGgufHeader(source: AsyncIterable<Uint8Array>, options: GgufStreamOptions = {}): Promise<GgufHeader> {
  const window = new StreamWindow(source, options.maxHeaderBytes ?? Number.MAX_SAFE_INTEGER);
  try {
    const state = newState();
    for (const step of headerSteps(state, options)) await window.run(step);
    return finish(state, window.start, options);
  } finally {
    await window.close();
  }
}

/** `readGgufHeader` over the file at `path`, read in 1 MiB chunks. */
export async function readGgufHeaderFromFile(path: string, options: GgufStreamOptions = {}): Promise<GgufHeader> {
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    return await readGgufHeader(stream, options);
  } finally {
    stream.destroy();
  }
}

/** The token strings of `tokenizer.ggml.tokens` in id order, or null when the metadata has none. */
export function ggufTokens(metadata: ReadonlyMap<string, GgufValue>): string[] | null {
  const tokens = metadata.get("tokenizer.ggml.tokens");
  if (!Array.isArray(tokens) || !tokens.every((t): t is string => typeof t === "string")) return null;
  return tokens;
}
