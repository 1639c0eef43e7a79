/** @module engine/model/gguf-writer
 * Minimal GGUF writer (versions 1, 2, 3) for fixtures and exports: explicitly typed metadata values and tensors
 * given as float32 values encoded to F32, F16, BF16, Q8_0 or Q4_0 (ggml's reference quantizers). It is the inverse of `parseGguf`.
 */
import { EngineError, UnreachableCaseError } from "../util/errors.ts";
import { ByteWriter, f32ToBf16, f32ToF16, f16ToF32, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgmlType, GgufValueType, Q8_0_BLOCK } from "../../../formats/index.ts";

export type GgufTypedValue =
  | { readonly type: "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "f32" | "f64"; readonly value: number }
  | { readonly type: "u64" | "i64"; readonly value: number | bigint }
  | { readonly type: "bool"; readonly value: boolean }
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "array"; readonly elementType: Exclude<GgufTypedValue["type"], "array">; readonly value: readonly (number | bigint | boolean | string)[] };

export interface GgufTensorInput {
  readonly name: string;
  /** Row-major shape (outermost first); written reversed as ggml dims [ne0, ne1, …]. */
  readonly shape: readonly number[];
  readonly data: Float32Array;
  readonly type: "F32" | "F16" | "BF16" | "Q8_0" | "Q4_0";
}

export interface GgufWriteInput {
  readonly version: 1 | 2 | 3;
  readonly metadata: readonly (readonly [string, GgufTypedValue])[];
  readonly tensors: readonly GgufTensorInput[];
  /** Written as general.alignment when not 32 and not already in metadata. */
  readonly alignment?: number;
}

const TYPE_CODES = {
  u8: GgufValueType.UINT8, i8: GgufValueType.INT8, u16: GgufValueType.UINT16, i16: GgufValueType.INT16,
  u32: GgufValueType.UINT32, i32: GgufValueType.INT32, f32: GgufValueType.FLOAT32, bool: GgufValueType.BOOL,
  string: GgufValueType.STRING, array: GgufValueType.ARRAY, u64: GgufValueType.UINT64, i64: GgufValueType.INT64,
  f64: GgufValueType.FLOAT64,
} as const;

function writeLength(writer: ByteWriter, version: number, n: number): void {
  if (version === 1) writer.u32(n);
  else writer.u64(n);
}

function writeString(writer: ByteWriter, version: number, text: string): void {
  const bytes = new TextEncoder().encode(text);
  writeLength(writer, version, bytes.byteLength);
  writer.bytes(bytes);
}

function writeScalar(writer: ByteWriter, version: number, type: Exclude<GgufTypedValue["type"], "array">, value: number | bigint | boolean | string): void {
  switch (type) {
    case "u8": writer.u8(Number(value)); return;
    case "i8": writer.i8(Number(value)); return;
    case "u16": writer.u16(Number(value)); return;
    case "i16": writer.i16(Number(value)); return;
    case "u32": writer.u32(Number(value)); return;
    case "i32": writer.i32(Number(value)); return;
    case "f32": writer.f32(Number(value)); return;
    case "f64": writer.f64(Number(value)); return;
    case "u64": writer.u64(value as number | bigint); return;
    case "i64": writer.i64(value as number | bigint); return;
    case "bool": writer.u8(value ? 1 : 0); return;
    case "string": writeString(writer, version, String(value)); return;
    default: throw new UnreachableCaseError(type);
  }
}

/** Encodes float32 values as ggml tensor bytes. */
export function encodeGgmlTensor(type: GgufTensorInput["type"], data: Float32Array): Uint8Array {
  const writer = new ByteWriter(data.length * 4 + 16);
  switch (type) {
    case "F32":
      for (const v of data) writer.f32(v);
      break;
    case "F16":
      for (const v of data) writer.u16(f32ToF16(v));
      break;
    case "BF16":
      for (const v of data) writer.u16(f32ToBf16(v));
      break;
    case "Q8_0": {
      if (data.length % Q8_0_BLOCK !== 0) throw new EngineError("INVALID_ARGUMENT", `Q8_0 needs a multiple of ${Q8_0_BLOCK} values`);
      for (let b = 0; b < data.length; b += Q8_0_BLOCK) {
        let amax = 0;
        for (let j = 0; j < Q8_0_BLOCK; j++) amax = Math.max(amax, Math.abs(data[b + j]));
        const scaleBits = f32ToF16(amax / 127);
        const inverse = amax === 0 ? 0 : 127 / amax;
        writer.u16(scaleBits);
        for (let j = 0; j < Q8_0_BLOCK; j++) writer.i8(Math.round(data[b + j] * inverse));
      }
      break;
    }
    case "Q4_0": {
      if (data.length % Q8_0_BLOCK !== 0) throw new EngineError("INVALID_ARGUMENT", `Q4_0 needs a multiple of ${Q8_0_BLOCK} values`);
      for (let b = 0; b < data.length; b += Q8_0_BLOCK) {
        const { scaleBits, levels } = q4Block(data, b);
        writer.u16(scaleBits);
        for (let j = 0; j < 16; j++) writer.u8(levels[j] | (levels[j + 16] << 4));
      }
      break;
    }
    default:
      throw new UnreachableCaseError(type);
  }
  return writer.finish();
}

/** ggml's quantize_row_q4_0_ref for one block: d = m/−8 for the element m of largest magnitude, levels
 *  min(15, trunc(x/d + 8.5)). */
function q4Block(data: Float32Array, at: number): { scaleBits: number; scale: number; levels: Uint8Array } {
  let extreme = 0;
  for (let j = 0; j < Q8_0_BLOCK; j++) if (Math.abs(data[at + j]) > Math.abs(extreme)) extreme = data[at + j];
  const d = extreme / -8;
  const inverse = d === 0 ? 0 : 1 / d;
  const levels = new Uint8Array(Q8_0_BLOCK);
  for (let j = 0; j < Q8_0_BLOCK; j++) levels[j] = Math.min(15, Math.trunc(data[at + j] * inverse + 8.5));
  const scaleBits = f32ToF16(d);
  return { scaleBits, scale: f16ToF32(scaleBits), levels };
}

/** The values a reader recovers from `encodeGgmlTensor(type, data)`. */
export function roundTripGgml(type: GgufTensorInput["type"], data: Float32Array): Float32Array {
  if (type === "Q4_0") {
    const out = new Float32Array(data.length);
    for (let b = 0; b < data.length; b += Q8_0_BLOCK) {
      const { scale, levels } = q4Block(data, b);
      for (let j = 0; j < Q8_0_BLOCK; j++) out[b + j] = scale * (levels[j] - 8);
    }
    return out;
  }
  if (type !== "Q8_0") return data.map((v) => (type === "F16" ? f16ToF32(f32ToF16(v)) : type === "BF16" ? new Float32Array(new Uint32Array([f32ToBf16(v) << 16]).buffer)[0] : v));
  const out = new Float32Array(data.length);
  for (let b = 0; b < data.length; b += Q8_0_BLOCK) {
    let amax = 0;
    for (let j = 0; j < Q8_0_BLOCK; j++) amax = Math.max(amax, Math.abs(data[b + j]));
    const scale = f16ToF32(f32ToF16(amax / 127));
    const inverse = amax === 0 ? 0 : 127 / amax;
    for (let j = 0; j < Q8_0_BLOCK; j++) out[b + j] = scale * Math.round(data[b + j] * inverse);
  }
  return out;
}

export function writeGguf(input: GgufWriteInput): Uint8Array {
  const { version } = input;
  const alignment = input.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  const metadata = [...input.metadata];
  if (alignment !== GGUF_DEFAULT_ALIGNMENT && !metadata.some(([k]) => k === "general.alignment")) {
    metadata.push(["general.alignment", { type: "u32", value: alignment }]);
  }
  const writer = new ByteWriter();
  writer.u32(GGUF_MAGIC).u32(version);
  writeLength(writer, version, input.tensors.length);
  writeLength(writer, version, metadata.length);
  for (const [key, typed] of metadata) {
    writeString(writer, version, key);
    writer.u32(TYPE_CODES[typed.type]);
    if (typed.type === "array") {
      writer.u32(TYPE_CODES[typed.elementType]);
      writeLength(writer, version, typed.value.length);
      for (const element of typed.value) writeScalar(writer, version, typed.elementType, element);
    } else {
      writeScalar(writer, version, typed.type, typed.value);
    }
  }
  const encoded = input.tensors.map((t) => encodeGgmlTensor(t.type, t.data));
  let offset = 0;
  const offsets: number[] = [];
  for (const bytes of encoded) {
    offsets.push(offset);
    offset = Math.ceil((offset + bytes.byteLength) / alignment) * alignment;
  }
  input.tensors.forEach((tensor, i) => {
    writeString(writer, version, tensor.name);
    const dims = [...tensor.shape].reverse();
    writer.u32(dims.length);
    for (const d of dims) {
      if (version === 1) writer.u32(d);
      else writer.u64(d);
    }
    writer.u32(GgmlType[tensor.type]);
    writer.u64(offsets[i]);
  });
  writer.padTo(alignment);
  encoded.forEach((bytes) => {
    writer.bytes(bytes);
    writer.padTo(alignment);
  });
  return writer.finish();
}

/** GGUF names of the canonical weights (model/config.ts). */
const GGUF_NAMES: Readonly<Record<string, string>> = {
  tok_embeddings: "token_embd.weight", norm: "output_norm.weight", output: "output.weight", attn_norm: "attn_norm.weight",
  wq: "attn_q.weight", wk: "attn_k.weight", wv: "attn_v.weight", wo: "attn_output.weight", ffn_norm: "ffn_norm.weight",
  w_gate: "ffn_gate.weight", w_up: "ffn_up.weight", w_down: "ffn_down.weight", bq: "attn_q.bias", bk: "attn_k.bias", bv: "attn_v.bias",
};

/** The GGUF tensor name of a canonical weight name. */
export function ggufTensorName(canonical: string): string {
  const m = /^layers\.(\d+)\.(.+)$/.exec(canonical);
  const name = m ? GGUF_NAMES[m[2]] : GGUF_NAMES[canonical];
  if (!name) throw new EngineError("INVALID_ARGUMENT", `no GGUF name for weight "${canonical}"`);
  return m ? `blk.${m[1]}.${name}` : name;
}

/** A llama GGUF (v3) of a config, its canonical weights and a llama (SentencePiece) vocabulary; `typeOf` picks
 *  each tensor's encoding (1-D tensors are always F32). */
export function llamaGgufInput(
  config: { readonly maxSeqLen: number; readonly dim: number; readonly nLayers: number; readonly ffnDim: number; readonly nHeads: number; readonly nKvHeads: number; readonly normEps: number; readonly ropeTheta: number; readonly bosId: number; readonly eosId: number },
  weights: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>,
  vocabulary: { readonly tokens: readonly string[]; readonly scores: readonly number[]; readonly tokenTypes: readonly number[] },
  typeOf: (canonical: string) => GgufTensorInput["type"],
): GgufWriteInput {
  const metadata: [string, GgufTypedValue][] = [
    ["general.architecture", { type: "string", value: "llama" }],
    ["llama.context_length", { type: "u32", value: config.maxSeqLen }],
    ["llama.embedding_length", { type: "u32", value: config.dim }],
    ["llama.block_count", { type: "u32", value: config.nLayers }],
    ["llama.feed_forward_length", { type: "u32", value: config.ffnDim }],
    ["llama.attention.head_count", { type: "u32", value: config.nHeads }],
    ["llama.attention.head_count_kv", { type: "u32", value: config.nKvHeads }],
    ["llama.attention.layer_norm_rms_epsilon", { type: "f32", value: config.normEps }],
    ["llama.rope.freq_base", { type: "f32", value: config.ropeTheta }],
    ["tokenizer.ggml.model", { type: "string", value: "llama" }],
    ["tokenizer.ggml.tokens", { type: "array", elementType: "string", value: vocabulary.tokens }],
    ["tokenizer.ggml.scores", { type: "array", elementType: "f32", value: vocabulary.scores }],
    ["tokenizer.ggml.token_type", { type: "array", elementType: "i32", value: vocabulary.tokenTypes }],
    ["tokenizer.ggml.bos_token_id", { type: "u32", value: config.bosId }],
    ["tokenizer.ggml.eos_token_id", { type: "u32", value: config.eosId }],
  ];
  const tensors: GgufTensorInput[] = [...weights].map(([name, t]) => ({ name: ggufTensorName(name), shape: t.shape, data: t.data, type: t.shape.length === 1 ? "F32" : typeOf(name) }));
  return { version: 3, metadata, tensors };
}
