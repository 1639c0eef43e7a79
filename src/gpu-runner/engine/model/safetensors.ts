/** @module engine/model/safetensors
 * safetensors reader and writer. Layout: u64 little-endian header length N, N bytes of JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: { string: string } }`, then the data
 * section; offsets are relative to it. The reader decodes F32, F16 and BF16 to Float32Array and validates the
 * header (JSON shape, dtype, byte counts, bounds, overlaps) with typed errors. The writer emits F32 (F16/BF16 on
 * request), tensors in name order, header padded with spaces to a multiple of 8.
 */
import { open } from "node:fs/promises";
import { EngineError, UnreachableCaseError } from "../util/errors.ts";
import { readExactly } from "../util/file.ts";
import { decodeBf16Array, decodeF16Array, decodeF32Array, f32ToBf16, f32ToF16 } from "../util/float.ts";
import type { WeightTensor } from "./config.ts";

export type SafetensorsErrorCode =
  | "BAD_HEADER_LENGTH"
  | "BAD_HEADER_JSON"
  | "BAD_TENSOR_ENTRY"
  | "UNSUPPORTED_DTYPE"
  | "BAD_OFFSETS"
  | "OVERLAPPING_TENSORS"
  | "MISSING_TENSOR"
  | "BAD_METADATA";

export class SafetensorsError extends EngineError<SafetensorsErrorCode> {}

export type SafetensorsDtype = "F32" | "F16" | "BF16";
const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = { F32: 4, F16: 2, BF16: 2 };
const KNOWN_DTYPES = new Set(["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]);

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

const MAX_HEADER_BYTES = 100_000_000;

/** Parses the 8-byte length prefix and the JSON header; `fileLength` bounds the offsets. */
export function parseSafetensorsHeader(prefix: Uint8Array, fileLength: number, label = "safetensors"): SafetensorsHeader {
  if (prefix.byteLength < 8) throw new SafetensorsError("BAD_HEADER_LENGTH", `${label}: file shorter than the 8-byte header length`);
  const headerLength = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, fileLength - 8))) {
    throw new SafetensorsError("BAD_HEADER_LENGTH", `${label}: header length ${headerLength} exceeds the file (${fileLength} bytes) or the 100 MB limit`);
  }
  const n = Number(headerLength);
  if (prefix.byteLength < 8 + n) throw new SafetensorsError("BAD_HEADER_LENGTH", `${label}: header needs ${8 + n} bytes, got ${prefix.byteLength}`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(prefix.subarray(8, 8 + n)));
  } catch (error) {
    throw new SafetensorsError("BAD_HEADER_JSON", `${label}: header is not valid UTF-8 JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new SafetensorsError("BAD_HEADER_JSON", `${label}: header must be a JSON object`);
  }
  const dataLength = fileLength - 8 - n;
  const entries = new Map<string, SafetensorsEntry>();
  const skipped = new Map<string, string>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof value !== "object" || value === null || Array.isArray(value) || !Object.values(value).every((v) => typeof v === "string")) {
        throw new SafetensorsError("BAD_METADATA", `${label}: __metadata__ must map strings to strings`);
      }
      metadata = { ...(value as Record<string, string>) };
      continue;
    }
    const entry = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof entry !== "object" || entry === null || typeof entry.dtype !== "string" || !Array.isArray(entry.shape) || !Array.isArray(entry.data_offsets)) {
      throw new SafetensorsError("BAD_TENSOR_ENTRY", `${label}: tensor ${name} needs dtype, shape and data_offsets`);
    }
    const shape = entry.shape as unknown[];
    const offsets = entry.data_offsets as unknown[];
    if (!shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw new SafetensorsError("BAD_TENSOR_ENTRY", `${label}: tensor ${name} has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (offsets.length !== 2 || !offsets.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw new SafetensorsError("BAD_OFFSETS", `${label}: tensor ${name} has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (end < begin || end > dataLength) {
      throw new SafetensorsError("BAD_OFFSETS", `${label}: tensor ${name} data_offsets [${begin}, ${end}] fall outside the data section (${dataLength} bytes)`);
    }
    if (!KNOWN_DTYPES.has(entry.dtype)) throw new SafetensorsError("UNSUPPORTED_DTYPE", `${label}: tensor ${name} has unknown dtype ${entry.dtype}`);
    if (!(entry.dtype in DTYPE_BYTES)) {
      skipped.set(name, entry.dtype);
      continue;
    }
    const dtype = entry.dtype as SafetensorsDtype;
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== count * DTYPE_BYTES[dtype]) {
      throw new SafetensorsError("BAD_OFFSETS", `${label}: tensor ${name} (${dtype} [${shape}]) needs ${count * DTYPE_BYTES[dtype]} bytes, data_offsets span ${end - begin}`);
    }
    entries.set(name, { name, dtype, shape: shape as number[], begin, end });
  }
  const sorted = [...entries.values()].filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      throw new SafetensorsError("OVERLAPPING_TENSORS", `${label}: tensors ${sorted[i - 1].name} and ${sorted[i].name} overlap`);
    }
  }
  return { metadata, entries, dataOffset: 8 + n, skipped };
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
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    if (size < 8) throw new SafetensorsError("BAD_HEADER_LENGTH", `${path}: file shorter than the 8-byte header length`);
    const lengthBytes = new Uint8Array(8);
    await readExactly(handle, lengthBytes, 0, `${path} header length`);
    const headerLength = Number(new DataView(lengthBytes.buffer).getBigUint64(0, true));
    const prefixLength = Math.min(size, 8 + Math.min(headerLength, MAX_HEADER_BYTES + 1));
    const prefix = new Uint8Array(prefixLength);
    await readExactly(handle, prefix, 0, `${path} header`);
    return parseSafetensorsHeader(prefix, size, path);
  } finally {
    await handle.close();
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
