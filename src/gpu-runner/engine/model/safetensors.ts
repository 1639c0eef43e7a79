/** @module engine/model/safetensors
 * safetensors reader and writer. Layout: u64 little-endian header length N, N bytes of JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: { string: string } }`, then the data
 * section; offsets are relative to it. The header is read and validated by formats/safetensors.ts (JSON shape,
 * dtype, byte counts, bounds, overlaps), its errors rethrown as SafetensorsError with the same code; this reader
 * decodes F32, F16 and BF16 to Float32Array. The writer emits F32 (F16/BF16 on
 * request), tensors in name order, header padded with spaces to a multiple of 8.
 */
import { open } from "node:fs/promises";
import {
  decodeBf16Array,
  decodeF16Array,
  decodeF32Array,
  f32ToBf16,
  f32ToF16,
  FormatError,
  parseSafetensorsHeader as parseHeaderBytes,
  readExactly,
  readSafetensorsHeaderFromFile,
  type SafetensorsFileHeader,
  type SafetensorsFormatErrorCode,
} from "../../../formats/index.ts";
import { EngineError, UnreachableCaseError } from "../util/errors.ts";
import type { WeightTensor } from "./config.ts";

export type SafetensorsErrorCode = SafetensorsFormatErrorCode | "MISSING_TENSOR" | "TRUNCATED";

export class SafetensorsError extends EngineError<SafetensorsErrorCode> {
  static override readonly category = "model-unavailable";
}

export type SafetensorsDtype = "F32" | "F16" | "BF16";
const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = { F32: 4, F16: 2, BF16: 2 };

export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Relative to the data section. */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  readonly metadata: Readonly<Record<string, string>>;
  readonly entries: ReadonlyMap<string, SafetensorsEntry>;
  /** Absolute offset of the data section (8 + header length). */
  readonly dataOffset: number;
  /** Entries with dtypes this reader does not decode (name → dtype); reading them throws UNSUPPORTED_DTYPE. */
  readonly skipped: ReadonlyMap<string, string>;
}

/** Splits the header formats/safetensors.ts read into the entries this engine decodes and the rest. */
function decodableHeader(header: SafetensorsFileHeader): SafetensorsHeader {
  const entries = new Map<string, SafetensorsEntry>();
  const skipped = new Map<string, string>();
  for (const [name, entry] of header.entries) {
    if (Object.prototype.hasOwnProperty.call(DTYPE_BYTES, entry.dtype)) entries.set(name, entry as SafetensorsEntry);
    else skipped.set(name, entry.dtype);
  }
  return { metadata: header.metadata, entries, dataOffset: header.dataOffset, skipped };
}

function toSafetensorsError(error: unknown): unknown {
  return error instanceof FormatError ? new SafetensorsError(error.code as SafetensorsErrorCode, error.message, { cause: error }) : error;
}

/** Parses the 8-byte length prefix and the JSON header (formats/safetensors.ts); `fileLength` bounds the offsets. */
export function parseSafetensorsHeader(prefix: Uint8Array, fileLength: number, label = "safetensors"): SafetensorsHeader {
  try {
    return decodableHeader(parseHeaderBytes(prefix, fileLength, label));
  } catch (error) {
    throw toSafetensorsError(error);
  }
}

export function decodeSafetensorsEntry(entry: SafetensorsEntry, raw: Uint8Array): Float32Array {
  const count = entry.shape.reduce((a, b) => a * b, 1);
  switch (entry.dtype) {
    case "F32":
      return decodeF32Array(raw, count);
    case "F16":
      return decodeF16Array(raw, count);
    case "BF16":
      return decodeBf16Array(raw, count);
    default:
      throw new UnreachableCaseError(entry.dtype);
  }
}

export interface SafetensorsContents {
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: Map<string, WeightTensor>;
}

function checkSelection(header: SafetensorsHeader, names: readonly string[] | undefined, label: string): string[] {
  const wanted = names ?? [...header.entries.keys(), ...header.skipped.keys()];
  for (const name of wanted) {
    const dtype = header.skipped.get(name);
    if (dtype) throw new SafetensorsError("UNSUPPORTED_DTYPE", `${label}: tensor ${name} has dtype ${dtype}; only F32, F16 and BF16 are read`);
    if (!header.entries.has(name)) throw new SafetensorsError("MISSING_TENSOR", `${label}: tensor ${name} is not in the file`);
  }
  return [...wanted];
}

/** Parses an in-memory safetensors file; `names` restricts which tensors are decoded (default: all). */
export function parseSafetensors(bytes: Uint8Array, names?: readonly string[]): SafetensorsContents {
  const header = parseSafetensorsHeader(bytes, bytes.byteLength);
  const tensors = new Map<string, WeightTensor>();
  for (const name of checkSelection(header, names, "safetensors")) {
    const entry = header.entries.get(name)!;
    const raw = bytes.subarray(header.dataOffset + entry.begin, header.dataOffset + entry.end);
    tensors.set(name, { shape: entry.shape, data: decodeSafetensorsEntry(entry, raw) });
  }
  return { metadata: header.metadata, tensors };
}

export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  try {
    return decodableHeader(await readSafetensorsHeaderFromFile(path));
  } catch (error) {
    throw toSafetensorsError(error);
  }
}

/** Reads a safetensors file from disk, decoding the selected tensors (default: all) one at a time. */
export async function loadSafetensorsFile(path: string, names?: readonly string[]): Promise<SafetensorsContents> {
  const header = await readSafetensorsHeader(path);
  const selected = checkSelection(header, names, path);
  const handle = await open(path, "r");
  try {
    const tensors = new Map<string, WeightTensor>();
    for (const name of selected) {
      const entry = header.entries.get(name)!;
      const raw = new Uint8Array(entry.end - entry.begin);
      await readExactly(handle, raw, header.dataOffset + entry.begin, `${path} tensor ${name}`);
      tensors.set(name, { shape: entry.shape, data: decodeSafetensorsEntry(entry, raw) });
    }
    return { metadata: header.metadata, tensors };
  } finally {
    await handle.close();
  }
}

export interface SafetensorsWriteOptions {
  readonly metadata?: Readonly<Record<string, string>>;
  /** Storage dtype for every tensor (default F32; F32 round-trips bit-exactly). */
  readonly dtype?: SafetensorsDtype;
}

/** Serializes tensors (name order) with an optional `__metadata__` string map. */
export function writeSafetensors(tensors: Iterable<readonly [string, WeightTensor]>, options: SafetensorsWriteOptions = {}): Uint8Array {
  const dtype = options.dtype ?? "F32";
  const entries = [...tensors].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (options.metadata) {
    for (const [k, v] of Object.entries(options.metadata)) {
      if (typeof v !== "string") throw new SafetensorsError("BAD_METADATA", `metadata ${k} must be a string`);
    }
    header.__metadata__ = options.metadata;
  }
  let offset = 0;
  for (const [name, tensor] of entries) {
    if (name === "__metadata__") throw new SafetensorsError("BAD_TENSOR_ENTRY", "a tensor cannot be named __metadata__");
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    if (count !== tensor.data.length) {
      throw new SafetensorsError("BAD_TENSOR_ENTRY", `tensor ${name}: shape [${tensor.shape}] needs ${count} values, data has ${tensor.data.length}`);
    }
    const bytes = count * DTYPE_BYTES[dtype];
    header[name] = { dtype, shape: [...tensor.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(headerBytes.byteLength / 8) * 8;
  if (padded !== headerBytes.byteLength) {
    const withPad = new Uint8Array(padded).fill(0x20);
    withPad.set(headerBytes);
    headerBytes = withPad;
  }
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const [, tensor] of entries) {
    switch (dtype) {
      case "F32":
        out.set(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength), at);
        at += tensor.data.byteLength;
        break;
      case "F16":
      case "BF16":
        for (const v of tensor.data) {
          view.setUint16(at, dtype === "F16" ? f32ToF16(v) : f32ToBf16(v), true);
          at += 2;
        }
        break;
      default:
        throw new UnreachableCaseError(dtype);
    }
  }
  return out;
}
