/** @module engine/model/gguf
 * GGUF reader (versions 1, 2, 3; little-endian) and the llama-family mapping to `LlamaConfig` and canonical
 * weight names.
 *
 * Container: magic `GGUF`, u32 version, tensor count, metadata count (u32 in v1, u64 in v2/v3), metadata
 * key/value pairs, tensor infos (name, u32 n_dims, dims, u32 ggml type, u64 offset), then the data section at the
 * next multiple of `general.alignment` (default 32); tensor offsets are relative to it. Strings and array counts
 * are u32 in v1 and u64 later. Tensor types F32, F16, BF16 and Q8_0 decode to Float32Array.
 *
 * Mapping (architectures `llama` and `qwen2`): GGUF dims are [ne0 = in, ne1 = out], so a 2-D tensor reads
 * row-major as (out, in). All GGUF llama models use interleaved RoPE (llama.cpp's converters permute HF Q/K
 * weights so that it applies); qwen2 uses llama.cpp's NeoX RoPE, i.e. rotate-half, and has q/k/v biases.
 * RoPE theta is `{arch}.rope.freq_base` or 10000. Embeddings are tied when `output.weight` is absent or
 * byte-identical to `token_embd.weight`; then no `output` tensor is returned.
 */
import { open } from "node:fs/promises";
import { ByteReader, TruncatedInputError } from "../util/binary.ts";
import { EngineError, UnreachableCaseError } from "../util/errors.ts";
import { decodeBf16Array, decodeF16Array, decodeF32Array, f16ToF32 } from "../util/float.ts";
import { validateModelWeights, type LoadedModel } from "../util/loaded-model.ts";
import { readExactly } from "../util/file.ts";
import { sha256File } from "../util/sha256.ts";
import type { LlamaConfig, ModelWeights, WeightTensor } from "./config.ts";
import {
  GGML_TYPE_NAMES,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GgmlType,
  GgufValueType,
  Q8_0_BLOCK,
  Q8_0_BLOCK_BYTES,
  ggmlTensorBytes,
  isSupportedGgmlType,
} from "./gguf-format.ts";
import { tokenizerFromGgufMetadata } from "./gguf-tokenizer.ts";
import type { Tokenizer } from "./tokenizer.ts";

export type GgufErrorCode =
  | "BAD_MAGIC"
  | "UNSUPPORTED_VERSION"
  | "BAD_VALUE_TYPE"
  | "BAD_ALIGNMENT"
  | "UNSUPPORTED_TENSOR_TYPE"
  | "BAD_TENSOR_INFO"
  | "TENSOR_OUT_OF_BOUNDS"
  | "DUPLICATE_NAME"
  | "MISSING_KEY"
  | "BAD_KEY_TYPE"
  | "UNSUPPORTED_ARCHITECTURE"
  | "UNSUPPORTED_FEATURE"
  | "UNKNOWN_TENSOR"
  | "TRUNCATED";

export class GgufError extends EngineError<GgufErrorCode> {}

export type GgufScalar = number | bigint | boolean | string;
/** Metadata value: u64/i64 read as bigint, other numbers as number, arrays as JS arrays. */
export type GgufValue = GgufScalar | GgufValue[];

export interface GgufTensorInfo {
  readonly name: string;
  /** ggml order: dims[0] = ne0 (innermost, contiguous). */
  readonly dims: readonly number[];
  readonly type: number;
  /** Offset relative to the data section. */
  readonly offset: number;
  readonly elementCount: number;
  readonly byteLength: number;
}

export interface GgufHeader {
  readonly version: 1 | 2 | 3;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  /** Absolute file offset of the data section. */
  readonly dataOffset: number;
}

function readString(reader: ByteReader, version: number, what: string): string {
  const length = version === 1 ? reader.u32() : reader.u64Number(`${what} length`);
  return reader.utf8(length, what);
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
      if (byte > 1) throw new GgufError("BAD_VALUE_TYPE", `metadata ${key}: bool byte ${byte} is neither 0 nor 1`);
      return byte === 1;
    }
    case GgufValueType.STRING: return readString(reader, version, `metadata ${key}`);
    case GgufValueType.UINT64: return reader.u64();
    case GgufValueType.INT64: return reader.i64();
    case GgufValueType.FLOAT64: return reader.f64();
    case GgufValueType.ARRAY: {
      const elementType = reader.u32();
      if (elementType === GgufValueType.ARRAY && version === 1) {
        throw new GgufError("BAD_VALUE_TYPE", `metadata ${key}: nested arrays are not valid in GGUF v1`);
      }
      const count = version === 1 ? reader.u32() : reader.u64Number(`metadata ${key} array count`);
      if (count > reader.remaining) throw new TruncatedInputError(`metadata ${key} array of ${count}`, count, reader.remaining);
      const values: GgufValue[] = new Array(count);
      for (let i = 0; i < count; i++) values[i] = readValue(reader, elementType, version, key);
      return values;
    }
    default:
      throw new GgufError("BAD_VALUE_TYPE", `metadata ${key}: unknown value type ${type}`);
  }
}

/** Parses the header from a prefix of the file. Throws `TruncatedInputError` (code TRUNCATED) when the prefix
 *  ends inside the header, so the caller can retry with more bytes. */
export function parseGgufHeader(bytes: Uint8Array): GgufHeader {
  const reader = new ByteReader(bytes);
  const magic = reader.u32();
  if (magic !== GGUF_MAGIC) {
    throw new GgufError("BAD_MAGIC", `not a GGUF file: magic 0x${magic.toString(16).padStart(8, "0")}, expected "GGUF"`);
  }
  const rawVersion = reader.u32();
  if (rawVersion !== 1 && rawVersion !== 2 && rawVersion !== 3) {
    const bigEndian = (rawVersion & 0xffffff) === 0 && rawVersion >>> 24 >= 1 && rawVersion >>> 24 <= 3;
    const hint = bigEndian ? " (a big-endian GGUF; only little-endian is supported)" : "";
    throw new GgufError("UNSUPPORTED_VERSION", `GGUF version ${rawVersion} is not supported${hint}; versions 1, 2 and 3 are`);
  }
  const version = rawVersion as 1 | 2 | 3;
  const tensorCount = version === 1 ? reader.u32() : reader.u64Number("tensor count");
  const kvCount = version === 1 ? reader.u32() : reader.u64Number("metadata count");
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = readString(reader, version, `metadata key ${i}`);
    const type = reader.u32();
    if (metadata.has(key)) throw new GgufError("DUPLICATE_NAME", `metadata key ${key} appears twice`);
    metadata.set(key, readValue(reader, type, version, key));
  }
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const alignmentValue = metadata.get("general.alignment");
  if (alignmentValue !== undefined) {
    if (typeof alignmentValue !== "number" || !Number.isInteger(alignmentValue) || alignmentValue <= 0 || (alignmentValue & (alignmentValue - 1)) !== 0) {
      throw new GgufError("BAD_ALIGNMENT", `general.alignment must be a power-of-two integer, got ${String(alignmentValue)}`);
    }
    alignment = alignmentValue;
  }
  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = readString(reader, version, `tensor ${i} name`);
    if (names.has(name)) throw new GgufError("DUPLICATE_NAME", `tensor ${name} appears twice`);
    names.add(name);
    const nDims = reader.u32();
    if (nDims < 1 || nDims > 4) throw new GgufError("BAD_TENSOR_INFO", `tensor ${name} has ${nDims} dimensions, expected 1 to 4`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(version === 1 ? reader.u32() : reader.u64Number(`tensor ${name} dim ${d}`));
    const type = reader.u32();
    const offset = reader.u64Number(`tensor ${name} offset`);
    if (!isSupportedGgmlType(type)) {
      const typeName = GGML_TYPE_NAMES[type] ?? `unknown type ${type}`;
      throw new GgufError("UNSUPPORTED_TENSOR_TYPE", `tensor ${name} has ggml type ${typeName}; supported are F32, F16, BF16 and Q8_0`);
    }
    const elementCount = dims.reduce((a, b) => a * b, 1);
    if (type === GgmlType.Q8_0 && dims[0] % Q8_0_BLOCK !== 0) {
      throw new GgufError("BAD_TENSOR_INFO", `tensor ${name}: Q8_0 needs ne0 (${dims[0]}) to be a multiple of ${Q8_0_BLOCK}`);
    }
    if (offset % alignment !== 0) {
      throw new GgufError("BAD_ALIGNMENT", `tensor ${name} offset ${offset} is not a multiple of the alignment ${alignment}`);
    }
    tensors.push({ name, dims, type, offset, elementCount, byteLength: ggmlTensorBytes(type, elementCount) });
  }
  const dataOffset = Math.ceil(reader.offset / alignment) * alignment;
  return { version, metadata, tensors, alignment, dataOffset };
}

/** Decodes one tensor's raw bytes (exactly `info.byteLength`) into float32 values in ggml order. */
export function decodeGgufTensor(info: GgufTensorInfo, raw: Uint8Array): Float32Array {
  if (raw.byteLength !== info.byteLength) {
    throw new GgufError("TENSOR_OUT_OF_BOUNDS", `tensor ${info.name}: got ${raw.byteLength} bytes, expected ${info.byteLength}`);
  }
  const type = info.type;
  if (!isSupportedGgmlType(type)) throw new GgufError("UNSUPPORTED_TENSOR_TYPE", `tensor ${info.name} has ggml type ${type}`);
  switch (type) {
    case GgmlType.F32:
      return decodeF32Array(raw, info.elementCount);
    case GgmlType.F16:
      return decodeF16Array(raw, info.elementCount);
    case GgmlType.BF16:
      return decodeBf16Array(raw, info.elementCount);
    case GgmlType.Q8_0: {
      const out = new Float32Array(info.elementCount);
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      const blocks = info.elementCount / Q8_0_BLOCK;
      for (let b = 0; b < blocks; b++) {
        const base = b * Q8_0_BLOCK_BYTES;
        const scale = f16ToF32(view.getUint16(base, true));
        for (let j = 0; j < Q8_0_BLOCK; j++) out[b * Q8_0_BLOCK + j] = scale * view.getInt8(base + 2 + j);
      }
      return out;
    }
    default:
      throw new UnreachableCaseError(type);
  }
}

/** A parsed in-memory GGUF: header plus raw access to tensor bytes. */
export interface GgufFile extends GgufHeader {
  tensorBytes(info: GgufTensorInfo): Uint8Array;
}

export function parseGguf(bytes: Uint8Array): GgufFile {
  let header: GgufHeader;
  try {
    header = parseGgufHeader(bytes);
  } catch (error) {
    if (error instanceof TruncatedInputError) throw new GgufError("TRUNCATED", `GGUF header is truncated: ${error.message}`, { cause: error });
    throw error;
  }
  for (const info of header.tensors) checkTensorBounds(header, info, bytes.byteLength);
  return {
    ...header,
    tensorBytes: (info) => bytes.subarray(header.dataOffset + info.offset, header.dataOffset + info.offset + info.byteLength),
  };
}

function checkTensorBounds(header: GgufHeader, info: GgufTensorInfo, fileLength: number): void {
  const end = header.dataOffset + info.offset + info.byteLength;
  if (end > fileLength) {
    throw new GgufError("TENSOR_OUT_OF_BOUNDS", `tensor ${info.name} ends at byte ${end}, past the end of the file (${fileLength} bytes)`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// llama mapping

function metadataNumber(metadata: ReadonlyMap<string, GgufValue>, key: string): number | undefined {
  const value = metadata.get(key);
  if (value === undefined) return undefined;
  if (typeof value === "number") return value;
  if (typeof value === "bigint") {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new GgufError("BAD_KEY_TYPE", `metadata ${key} = ${value} does not fit an exact number`);
    }
    return Number(value);
  }
  throw new GgufError("BAD_KEY_TYPE", `metadata ${key} must be a number, got ${typeof value}`);
}

function requireNumber(metadata: ReadonlyMap<string, GgufValue>, key: string): number {
  const value = metadataNumber(metadata, key);
  if (value === undefined) throw new GgufError("MISSING_KEY", `metadata key ${key} is missing`);
  return value;
}

function metadataString(metadata: ReadonlyMap<string, GgufValue>, key: string): string | undefined {
  const value = metadata.get(key);
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new GgufError("BAD_KEY_TYPE", `metadata ${key} must be a string, got ${typeof value}`);
  return value;
}

function metadataArray<T>(metadata: ReadonlyMap<string, GgufValue>, key: string, check: (v: GgufValue) => v is GgufValue & T): T[] | undefined {
  const value = metadata.get(key);
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every(check)) throw new GgufError("BAD_KEY_TYPE", `metadata ${key} has the wrong element type`);
  return value as T[];
}

const isString = (v: GgufValue): v is string => typeof v === "string";
const isNumber = (v: GgufValue): v is number => typeof v === "number";

/** The tokenizer described by `tokenizer.ggml.*` (model `llama` or `gpt2`, see gguf-tokenizer.ts). */
export function ggufTokenizer(metadata: ReadonlyMap<string, GgufValue>): Tokenizer {
  return tokenizerFromGgufMetadata({
    string: (key) => metadataString(metadata, key),
    number: (key) => metadataNumber(metadata, key),
    strings: (key) => metadataArray(metadata, key, isString),
    numbers: (key) => metadataArray(metadata, key, isNumber),
  });
}

export function ggufLlamaConfig(header: GgufHeader, tokenizer: { vocabSize: number; bosId: number; eosId: number }, tied: boolean): LlamaConfig {
  const { metadata } = header;
  const architecture = metadataString(metadata, "general.architecture");
  if (architecture !== "llama" && architecture !== "qwen2") {
    throw new GgufError("UNSUPPORTED_ARCHITECTURE", `general.architecture "${architecture ?? "(missing)"}" is not supported; supported: llama, qwen2`);
  }
  const key = (name: string): string => `${architecture}.${name}`;
  const dim = requireNumber(metadata, key("embedding_length"));
  const nHeads = requireNumber(metadata, key("attention.head_count"));
  const nKvHeads = metadataNumber(metadata, key("attention.head_count_kv")) ?? nHeads;
  const headDim = metadataNumber(metadata, key("attention.key_length")) ?? dim / nHeads;
  const valueDim = metadataNumber(metadata, key("attention.value_length")) ?? headDim;
  if (valueDim !== headDim) {
    throw new GgufError("UNSUPPORTED_FEATURE", `attention.value_length ${valueDim} differs from key_length ${headDim}`);
  }
  const ropeDims = metadataNumber(metadata, key("rope.dimension_count"));
  if (ropeDims !== undefined && ropeDims !== headDim) {
    throw new GgufError("UNSUPPORTED_FEATURE", `partial RoPE (rope.dimension_count ${ropeDims} < head dim ${headDim}) is not supported`);
  }
  const scaling = metadataString(metadata, key("rope.scaling.type"));
  if (scaling !== undefined && scaling !== "none") {
    throw new GgufError("UNSUPPORTED_FEATURE", `RoPE scaling "${scaling}" is not supported`);
  }
  const vocabSize = metadataNumber(metadata, key("vocab_size")) ?? tokenizer.vocabSize;
  if (vocabSize !== tokenizer.vocabSize) {
    throw new GgufError("BAD_KEY_TYPE", `${key("vocab_size")} ${vocabSize} differs from the tokenizer's ${tokenizer.vocabSize} tokens`);
  }
  return {
    vocabSize,
    dim,
    nLayers: requireNumber(metadata, key("block_count")),
    nHeads,
    nKvHeads,
    headDim,
    ffnDim: requireNumber(metadata, key("feed_forward_length")),
    normEps: metadataNumber(metadata, key("attention.layer_norm_rms_epsilon")) ?? 1e-5,
    ropeTheta: metadataNumber(metadata, key("rope.freq_base")) ?? 10000,
    ropeLayout: architecture === "llama" ? "interleaved" : "rotate-half",
    maxSeqLen: requireNumber(metadata, key("context_length")),
    tiedEmbeddings: tied,
    qkvBias: architecture === "qwen2",
    bosId: tokenizer.bosId,
    eosId: tokenizer.eosId,
  };
}

const LAYER_TENSORS: Readonly<Record<string, string>> = {
  "attn_norm.weight": "attn_norm",
  "attn_q.weight": "wq",
  "attn_k.weight": "wk",
  "attn_v.weight": "wv",
  "attn_q.bias": "bq",
  "attn_k.bias": "bk",
  "attn_v.bias": "bv",
  "attn_output.weight": "wo",
  "ffn_norm.weight": "ffn_norm",
  "ffn_gate.weight": "w_gate",
  "ffn_up.weight": "w_up",
  "ffn_down.weight": "w_down",
};
const GLOBAL_TENSORS: Readonly<Record<string, string>> = {
  "token_embd.weight": "tok_embeddings",
  "output_norm.weight": "norm",
  "output.weight": "output",
};

/** GGUF tensor name → canonical name; throws UNKNOWN_TENSOR for names outside the llama layout. */
export function canonicalGgufName(name: string): string {
  const global = GLOBAL_TENSORS[name];
  if (global) return global;
  const match = /^blk\.(\d+)\.(.+)$/.exec(name);
  const layerName = match ? LAYER_TENSORS[match[2]] : undefined;
  if (match && layerName) return `layers.${Number(match[1])}.${layerName}`;
  throw new GgufError("UNKNOWN_TENSOR", `tensor ${name} is not part of the llama layout this engine reads`);
}

/** Reads raw tensor bytes; `parseGguf` and `loadGguf` supply in-memory and file-backed versions. */
type TensorBytesSource = (info: GgufTensorInfo) => Promise<Uint8Array> | Uint8Array;

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

export interface GgufModel {
  readonly config: LlamaConfig;
  readonly weights: ModelWeights;
  readonly tokenizer: Tokenizer;
}

/** Maps a parsed GGUF to config, canonical weights and tokenizer, validating every shape. */
export async function ggufToModel(header: GgufHeader, readTensor: TensorBytesSource): Promise<GgufModel> {
  const tokenizer = ggufTokenizer(header.metadata);
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  const output = byName.get("output.weight");
  const embedding = byName.get("token_embd.weight");
  if (!embedding) throw new GgufError("MISSING_KEY", "tensor token_embd.weight is missing");
  let tied = output === undefined;
  if (output && output.type === embedding.type && output.byteLength === embedding.byteLength) {
    tied = bytesEqual(await readTensor(output), await readTensor(embedding));
  }
  const config = ggufLlamaConfig(header, tokenizer, tied);
  const weights = new Map<string, WeightTensor>();
  for (const info of header.tensors) {
    const name = canonicalGgufName(info.name);
    if (name === "output" && tied) continue;
    const data = decodeGgufTensor(info, await readTensor(info));
    weights.set(name, { shape: [...info.dims].reverse(), data });
  }
  validateModelWeights(config, weights);
  return { config, weights, tokenizer };
}

const HEADER_PROBE_BYTES = 1 << 20;

/** Loads a llama GGUF file: header, tokenizer, canonical float32 weights, sha256 of the file. */
export async function loadGguf(path: string): Promise<LoadedModel> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    let header: GgufHeader | undefined;
    for (let probe = Math.min(HEADER_PROBE_BYTES, size); header === undefined; probe = Math.min(probe * 4, size)) {
      const prefix = new Uint8Array(probe);
      await readExactly(handle, prefix, 0, `${path} header`);
      try {
        header = parseGgufHeader(prefix);
      } catch (error) {
        if (!(error instanceof TruncatedInputError)) throw error;
        if (probe >= size) throw new GgufError("TRUNCATED", `${path}: GGUF header is truncated: ${error.message}`, { cause: error });
      }
    }
    const parsed = header;
    for (const info of parsed.tensors) checkTensorBounds(parsed, info, size);
    const model = await ggufToModel(parsed, async (info) => {
      const bytes = new Uint8Array(info.byteLength);
      await readExactly(handle, bytes, parsed.dataOffset + info.offset, `${path} tensor ${info.name}`);
      return bytes;
    });
    const sha256 = await sha256File(path);
    return { ...model, source: { format: "gguf", sha256, path } };
  } finally {
    await handle.close();
  }
}
