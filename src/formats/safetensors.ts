/** @module formats/safetensors
 * The safetensors header. Layout: u64 little-endian header length N, N bytes of UTF-8 JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: { string: string } }`, then the data
 * section; offsets are relative to it.
 *
 * Contracts: the header is at most 100 MB and inside the file; every entry has a known dtype, a shape of
 * non-negative integers and offsets inside the data section spanning exactly shape × dtype size bytes; no two
 * entries overlap; `__metadata__` maps strings to strings. Each violation is a SafetensorsFormatError naming the
 * tensor. Decoding tensor data is the caller's (half-float.ts holds the codecs).
 */
import { open } from "node:fs/promises";
import { FormatError } from "./errors.ts";
import { readExactly } from "./file.ts";

export type SafetensorsFormatErrorCode = "BAD_HEADER_LENGTH" | "BAD_HEADER_JSON" | "BAD_TENSOR_ENTRY" | "UNSUPPORTED_DTYPE" | "BAD_OFFSETS" | "OVERLAPPING_TENSORS" | "BAD_METADATA";

export class SafetensorsFormatError extends FormatError<SafetensorsFormatErrorCode> {}

/** Bytes per element of every dtype the format defines. */
export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

export interface SafetensorsHeaderEntry {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Relative to the data section. */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsFileHeader {
  readonly metadata: Readonly<Record<string, string>>;
  /** Every tensor, in header order. */
  readonly entries: ReadonlyMap<string, SafetensorsHeaderEntry>;
  /** Absolute offset of the data section (8 + header length). */
  readonly dataOffset: number;
}

export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/** The header length the 8-byte prefix declares, checked against the file length and the 100 MB bound. */
export function safetensorsHeaderLength(prefix: Uint8Array, fileLength: number, label = "safetensors"): number {
  if (prefix.byteLength < 8) throw new SafetensorsFormatError("BAD_HEADER_LENGTH", `${label}: file shorter than the 8-byte header length`);
  const headerLength = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(SAFETENSORS_MAX_HEADER_BYTES, fileLength - 8))) {
    throw new SafetensorsFormatError("BAD_HEADER_LENGTH", `${label}: header length ${headerLength} exceeds the file (${fileLength} bytes) or the 100 MB limit`);
  }
  return Number(headerLength);
}

function parseJson(bytes: Uint8Array, label: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    throw new SafetensorsFormatError("BAD_HEADER_JSON", `${label}: header is not valid UTF-8 JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new SafetensorsFormatError("BAD_HEADER_JSON", `${label}: header must be a JSON object`);
  return json as Record<string, unknown>;
}

function parseEntry(name: string, value: unknown, dataLength: number, label: string): SafetensorsHeaderEntry {
  const entry = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof entry !== "object" || entry === null || typeof entry.dtype !== "string" || !Array.isArray(entry.shape) || !Array.isArray(entry.data_offsets)) {
    throw new SafetensorsFormatError("BAD_TENSOR_ENTRY", `${label}: tensor ${name} needs dtype, shape and data_offsets`);
  }
  const shape = entry.shape as unknown[];
  const offsets = entry.data_offsets as unknown[];
  if (!shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new SafetensorsFormatError("BAD_TENSOR_ENTRY", `${label}: tensor ${name} has an invalid shape ${JSON.stringify(shape)}`);
  }
  if (offsets.length !== 2 || !offsets.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new SafetensorsFormatError("BAD_OFFSETS", `${label}: tensor ${name} has invalid data_offsets ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as number[];
  if (end < begin || end > dataLength) {
    throw new SafetensorsFormatError("BAD_OFFSETS", `${label}: tensor ${name} data_offsets [${begin}, ${end}] fall outside the data section (${dataLength} bytes)`);
  }
  if (!Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE_BYTES, entry.dtype)) {
    throw new SafetensorsFormatError("UNSUPPORTED_DTYPE", `${label}: tensor ${name} has unknown dtype ${entry.dtype}`);
  }
  const width = SAFETENSORS_DTYPE_BYTES[entry.dtype]!;
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  if (end - begin !== count * width) {
    throw new SafetensorsFormatError("BAD_OFFSETS", `${label}: tensor ${name} (${entry.dtype} [${shape}]) needs ${count * width} bytes, data_offsets span ${end - begin}`);
  }
  return { name, dtype: entry.dtype, shape: shape as number[], begin, end };
}

/** Parses the 8-byte length prefix and the JSON header from `prefix` (at least 8 + N bytes); `fileLength` bounds
 *  the offsets. */
export function parseSafetensorsHeader(prefix: Uint8Array, fileLength: number, label = "safetensors"): SafetensorsFileHeader {
  const n = safetensorsHeaderLength(prefix, fileLength, label);
  if (prefix.byteLength < 8 + n) throw new SafetensorsFormatError("BAD_HEADER_LENGTH", `${label}: header needs ${8 + n} bytes, got ${prefix.byteLength}`);
  const json = parseJson(prefix.subarray(8, 8 + n), label);
  const dataLength = fileLength - 8 - n;
  const entries = new Map<string, SafetensorsHeaderEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json)) {
    if (name === "__metadata__") {
      if (typeof value !== "object" || value === null || Array.isArray(value) || !Object.values(value).every((v) => typeof v === "string")) {
        throw new SafetensorsFormatError("BAD_METADATA", `${label}: __metadata__ must map strings to strings`);
      }
      metadata = { ...(value as Record<string, string>) };
      continue;
    }
    entries.set(name, parseEntry(name, value, dataLength, label));
  }
  const sorted = [...entries.values()].filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      throw new SafetensorsFormatError("OVERLAPPING_TENSORS", `${label}: tensors ${sorted[i - 1].name} and ${sorted[i].name} overlap`);
    }
  }
  return { metadata, entries, dataOffset: 8 + n };
}

/** Reads and parses the header of the file at `path` (its first 8 + N bytes only); `label` names it in errors. */
export async function readSafetensorsHeaderFromFile(path: string, label = path): Promise<SafetensorsFileHeader> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    if (size < 8) throw new SafetensorsFormatError("BAD_HEADER_LENGTH", `${label}: file shorter than the 8-byte header length`);
    const lengthBytes = new Uint8Array(8);
    await readExactly(handle, lengthBytes, 0, `${label} header length`);
    const n = safetensorsHeaderLength(lengthBytes, size, label);
    const prefix = new Uint8Array(8 + n);
    await readExactly(handle, prefix, 0, `${label} header`);
    return parseSafetensorsHeader(prefix, size, label);
  } finally {
    await handle.close();
  }
}
