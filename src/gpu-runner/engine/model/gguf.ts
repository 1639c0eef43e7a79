/** @module engine/model/gguf
 * GGUF loader (versions 1, 2, 3; little-endian) and the llama-family mapping to `LlamaConfig` and canonical
 * weight names.
 *
 * Container: read by formats/gguf.ts (the one GGUF header reader; `loadGguf` streams the header from the file),
 * its errors rethrown as GgufError with the same code. Tensor types F32, F16, BF16, Q8_0 and Q4_0 decode to
 * Float32Array; every tensor must lie inside the file (TENSOR_OUT_OF_BOUNDS).
 *
 * Mapping (architectures `llama` and `qwen2`): GGUF dims are [ne0 = in, ne1 = out], so a 2-D tensor reads
 * row-major as (out, in). All GGUF llama models use interleaved RoPE (llama.cpp's converters permute HF Q/K
 * weights so that it applies); qwen2 uses llama.cpp's NeoX RoPE, i.e. rotate-half, and has q/k/v biases.
 * RoPE theta is `{arch}.rope.freq_base` or 10000. Embeddings are tied when `output.weight` is absent or
 * byte-identical to `token_embd.weight`; then no `output` tensor is returned.
 */
import { open } from "node:fs/promises";
import {
  decodeBf16Array,
  decodeF16Array,
  decodeF32Array,
  f16ToF32,
  FormatError,
  GgmlType,
  isSupportedGgmlType,
  parseGgufHeader as parseGgufHeaderBytes,
  Q4_0_BLOCK,
  Q4_0_BLOCK_BYTES,
  Q8_0_BLOCK,
  Q8_0_BLOCK_BYTES,
  readExactly,
  readGgufHeaderFromFile,
  sha256File,
  type GgufFormatErrorCode,
  type GgufHeader,
  type GgufTensorInfo,
  type GgufValue,
} from "../../../formats/index.ts";
import { EngineError, UnreachableCaseError } from "../util/errors.ts";
import { validateModelWeights, type LoadedModel } from "../util/loaded-model.ts";
import type { LlamaConfig, ModelWeights, WeightTensor } from "./config.ts";
import { tokenizerFromGgufMetadata } from "./gguf-tokenizer.ts";
import type { Tokenizer } from "./tokenizer.ts";

export type { GgufHeader, GgufScalar, GgufTensorInfo, GgufValue } from "../../../formats/index.ts";

export type GgufErrorCode =
  | GgufFormatErrorCode
  | "VALUE_OUT_OF_RANGE"
  | "TENSOR_OUT_OF_BOUNDS"
  | "MISSING_KEY"
  | "BAD_KEY_TYPE"
  | "UNSUPPORTED_ARCHITECTURE"
  | "UNSUPPORTED_FEATURE"
  | "UNKNOWN_TENSOR";

/** A GGUF file the engine cannot load: the header codes of formats/gguf.ts, and the llama mapping's own. */
export class GgufError extends EngineError<GgufErrorCode> {
  static override readonly category = "model-unavailable";
}

/** Runs `read` and turns a format error (header codes, TRUNCATED) into a GgufError with the same code. */
export async function asGgufError<T>(read: () => Promise<T> | T, label?: string): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw toGgufError(error, label);
  }
}

function toGgufError(error: unknown, label?: string): unknown {
  if (!(error instanceof FormatError)) return error;
  const message = error.code === "TRUNCATED" && !/^GGUF header/.test(error.message) ? `GGUF header is truncated: ${error.message}` : error.message;
  return new GgufError(error.code as GgufErrorCode, label ? `${label}: ${message}` : message, { cause: error });
}

/** The header from a prefix of a file (formats/gguf.ts `parseGgufHeader`), its errors as GgufError (TRUNCATED when
 *  the prefix ends inside it). */
export function parseGgufHeader(bytes: Uint8Array): GgufHeader {
  try {
    return parseGgufHeaderBytes(bytes);
  } catch (error) {
    throw toGgufError(error);
  }
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
    case GgmlType.Q4_0: {
      const out = new Float32Array(info.elementCount);
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      const blocks = info.elementCount / Q4_0_BLOCK;
      for (let b = 0; b < blocks; b++) {
        const base = b * Q4_0_BLOCK_BYTES;
        const scale = f16ToF32(view.getUint16(base, true));
        for (let j = 0; j < 16; j++) {
          const byte = raw[base + 2 + j];
          out[b * Q4_0_BLOCK + j] = scale * ((byte & 0x0f) - 8);
          out[b * Q4_0_BLOCK + j + 16] = scale * ((byte >> 4) - 8);
        }
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
  const header = parseGgufHeader(bytes);
  for (const info of header.tensors) checkTensorBounds(header, info, bytes.byteLength);
  return {
    ...header,
    tensorBytes: (info) => bytes.subarray(header.dataOffset + info.offset, header.dataOffset + info.offset + info.byteLength),
  };
}

export function checkTensorBounds(header: GgufHeader, info: GgufTensorInfo, fileLength: number): void {
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
export type TensorBytesSource = (info: GgufTensorInfo) => Promise<Uint8Array> | Uint8Array;

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Config and tokenizer of a llama GGUF; embeddings are tied when `output.weight` is absent or byte-identical to
 *  `token_embd.weight`. */
export async function ggufConfigAndTokenizer(header: GgufHeader, readTensor: TensorBytesSource): Promise<{ config: LlamaConfig; tokenizer: Tokenizer; tied: boolean }> {
  const tokenizer = ggufTokenizer(header.metadata);
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  const output = byName.get("output.weight");
  const embedding = byName.get("token_embd.weight");
  if (!embedding) throw new GgufError("MISSING_KEY", "tensor token_embd.weight is missing");
  let tied = output === undefined;
  if (output && output.type === embedding.type && output.byteLength === embedding.byteLength) {
    tied = bytesEqual(await readTensor(output), await readTensor(embedding));
  }
  return { config: ggufLlamaConfig(header, tokenizer, tied), tokenizer, tied };
}

export interface GgufModel {
  readonly config: LlamaConfig;
  readonly weights: ModelWeights;
  readonly tokenizer: Tokenizer;
}

/** Maps a parsed GGUF to config, canonical weights and tokenizer, validating every shape. */
export async function ggufToModel(header: GgufHeader, readTensor: TensorBytesSource): Promise<GgufModel> {
  const { config, tokenizer, tied } = await ggufConfigAndTokenizer(header, readTensor);
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

/** Loads a llama GGUF file: header (streamed, formats/gguf.ts), tokenizer, canonical float32 weights, sha256 of
 *  the file. */
export async function loadGguf(path: string): Promise<LoadedModel> {
  const header = await asGgufError(() => readGgufHeaderFromFile(path), path);
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    for (const info of header.tensors) checkTensorBounds(header, info, size);
    const model = await ggufToModel(header, async (info) => {
      const bytes = new Uint8Array(info.byteLength);
      await readExactly(handle, bytes, header.dataOffset + info.offset, `${path} tensor ${info.name}`);
      return bytes;
    });
    const sha256 = await sha256File(path);
    return { ...model, source: { format: "gguf", sha256, path } };
  } finally {
    await handle.close();
  }
}
