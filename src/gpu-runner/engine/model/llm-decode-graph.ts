/**
 * @module engine/model/llm-decode-graph
 * The fast decode graph: one LLaMA forward built from onnxruntime's LLM kernels (com.microsoft
 * GroupQueryAttention, RotaryEmbedding, SkipSimplifiedLayerNormalization, MatMulNBits; SimplifiedLayerNormalization)
 * with symbolic batch, sequence and past lengths, so ONE session serves prefill and every decode step of every
 * batch size. The plain-op graphs of model/llama-graph.ts stay the reference and the path autodiff uses; this
 * graph is for inference only and must agree with them (model/llm-decode-graph.test.ts).
 *
 * Inputs (B rows, S new tokens per row, P cached positions):
 *   inputs_embeds [B,S,dim] float32   the new tokens' embedding rows (looked up on the host, decode/fast-decoder.ts)
 *   position_ids  [B,S] int64         RoPE position of each new token
 *   seqlens_k     [B] int32           per row: cached + real new tokens − 1 (GroupQueryAttention's convention)
 *   total_sequence_length [] int32    max over rows of cached + new tokens
 *   past_key.{l} / past_value.{l} [B,nKvHeads,P,headDim]  the cache (slots ≥ a row's length are ignored)
 *   logit_rows    [R] int64           flattened token indices b·S + s whose logits are wanted
 *   alpha         [B,k]               PBLoRA only
 * Outputs, in this order: logits [R,vocab]; new_key.{l} / new_value.{l} [B,S,nKvHeads·headDim], the new tokens'
 * roped keys and values, which the host writes into its cache at each row's positions. A prompt (P = 0 cached) is
 * right-padded: row b's real tokens are its first seqlens_k[b] + 1.
 *
 * Weights are initializers (one copy per session, prepacked by onnxruntime): float32 projections as MatMul
 * [in,out], quantized ones as MatMulNBits (block 32). q/k/v and gate/up are fused into one matrix each. Adapters
 * (LoRA, PBLoRA) are skinny MatMuls added to the projection outputs, their tensors baked in; PBLoRA's core
 * blockdiag(W1, Σ αᵢ W2ᵢ) is formed per row from α inside the graph.
 * Nothing here is specific to an execution provider (engine-notes.md: the WebGPU provider has the same kernels).
 */
import { GraphBuilder, GraphShapeError, type SerializedModel, type Value } from "../onnx/index.ts";
import { ModelWeightsError, validateLlamaConfig } from "../util/loaded-model.ts";
import type { LlamaConfig } from "./config.ts";
import { headMatrix, type DecodeMatrix, type DecodeWeights } from "./decode-weights.ts";
import { adapterScale, adapterTensorName, validateAdapterSpec, type AdapterSpec, type AdapterTarget } from "./pblora.ts";
import type { BlockQuantized } from "./quantized-weights.ts";

/** Graph names of the fast decode graph's inputs and outputs. */
export const LLM_IO = {
  embeds: "inputs_embeds",
  positions: "position_ids",
  seqlens: "seqlens_k",
  total: "total_sequence_length",
  logitRows: "logit_rows",
  alpha: "alpha",
  logits: "logits",
  pastKey: (l: number) => `past_key.${l}`,
  pastValue: (l: number) => `past_value.${l}`,
  newKey: (l: number) => `new_key.${l}`,
  newValue: (l: number) => `new_value.${l}`,
} as const;

export interface LlmAdapter {
  readonly spec: AdapterSpec;
  readonly tensors: ReadonlyMap<string, Float32Array>;
}

/** How MatMulNBits multiplies: "float32" (accuracy_level 0: blocks dequantized, float32 products) or "int8"
 *  (accuracy_level 4: activations quantized per block to int8, integer dot products, as llama.cpp does for Q8_0 /
 *  Q4_0). On onnxruntime 1.30's CPU provider only "int8" has a fast 8-bit kernel (docs/engine.md §7). */
export type MatMulNBitsAccuracy = "float32" | "int8";

export interface LlmDecodeGraphOptions {
  readonly adapter?: LlmAdapter;
  /** Default "int8". */
  readonly matMulNBitsAccuracy?: MatMulNBitsAccuracy;
  /** Initializers of at least this many bytes go to external data (default 1 MiB). */
  readonly externalDataMinBytes?: number;
}

// Representative sizes of the symbolic axes: the builder computes with them; the graph keeps the names.
const REP = { B: 2, S: 3, P: 5, R: 7 } as const;

/** Concatenates matrices along rows (all float32, or all quantized with the same bits): q|k|v, gate|up. */
export function stackRows(parts: readonly DecodeMatrix[]): DecodeMatrix {
  const cols = parts[0].cols;
  if (parts.some((p) => p.cols !== cols || p.kind !== parts[0].kind)) throw new ModelWeightsError("SHAPE_MISMATCH", "stacked matrices must share columns and encoding");
  const rows = parts.reduce((n, p) => n + p.rows, 0);
  if (parts[0].kind === "float32") {
    const data = new Float32Array(rows * cols);
    let at = 0;
    for (const p of parts as readonly { data: Float32Array }[]) {
      data.set(p.data, at);
      at += p.data.length;
    }
    return { kind: "float32", rows, cols, data };
  }
  const qs = parts as readonly BlockQuantized[];
  if (qs.some((p) => p.bits !== qs[0].bits)) throw new ModelWeightsError("SHAPE_MISMATCH", "stacked quantized matrices must share bits");
  const packed = new Uint8Array(qs.reduce((n, p) => n + p.packed.length, 0));
  const scales = new Float32Array(qs.reduce((n, p) => n + p.scales.length, 0));
  let pa = 0;
  let sa = 0;
  for (const p of qs) {
    packed.set(p.packed, pa);
    scales.set(p.scales, sa);
    pa += p.packed.length;
    sa += p.scales.length;
  }
  const [, nb, blob] = qs[0].packedShape;
  return { ...qs[0], rows, packed, packedShape: [rows, nb, blob], scales };
}

/** x [..., cols] times Wᵀ for W [rows, cols] → [..., rows]. */
function projectWith(b: GraphBuilder, x: Value, w: DecodeMatrix, hint: string, accuracy: MatMulNBitsAccuracy): Value {
  const outShape = [...x.shape.slice(0, -1), w.rows];
  if (w.kind === "float32") {
    const t = new Float32Array(w.rows * w.cols);
    for (let r = 0; r < w.rows; r++) for (let c = 0; c < w.cols; c++) t[c * w.rows + r] = w.data[r * w.cols + c];
    return b.matMul(x, b.initializer(`${hint}.T`, "float32", [w.cols, w.rows], t));
  }
  const [y] = b.contrib(
    "MatMulNBits",
    [x, b.initializer(`${hint}.q${w.bits}`, "uint8", w.packedShape, w.packed), b.initializer(`${hint}.scales`, "float32", [w.scales.length], w.scales)],
    [{ dtype: "float32", shape: outShape }],
    {
      K: { kind: "int", value: w.cols },
      N: { kind: "int", value: w.rows },
      bits: { kind: "int", value: w.bits },
      block_size: { kind: "int", value: w.blockSize },
      accuracy_level: { kind: "int", value: accuracy === "int8" ? 4 : 0 },
    },
  );
  return y;
}

/** Transposed copy of a row-major [rows, cols] float array, optionally scaled. */
function transposed(data: Float32Array, rows: number, cols: number, scale = 1): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = data[r * cols + c] * scale;
  return t;
}

/** The adapter branch for one layer-target: s·B·core·A·x with tensors baked in; alpha [B,k] for PBLoRA. */
function adapterDelta(b: GraphBuilder, adapter: LlmAdapter, layer: number, target: AdapterTarget, x: Value, alpha: Value | undefined): Value {
  const { spec, tensors } = adapter;
  const get = (part: string): Float32Array => {
    const t = tensors.get(adapterTensorName(layer, target, part));
    if (!t) throw new ModelWeightsError("MISSING_TENSOR", `adapter tensor "${adapterTensorName(layer, target, part)}" is missing`);
    return t;
  };
  const name = (part: string) => `${adapterTensorName(layer, target, part)}.T`;
  const inDim = x.shape[x.shape.length - 1];
  const s = adapterScale(spec);
  if (spec.mode === "lora") {
    const r = spec.rank;
    const A = b.initializer(name("lora_A"), "float32", [inDim, r], transposed(get("lora_A"), r, inDim));
    const B = get("lora_B");
    const outDim = B.length / r;
    return b.matMul(b.matMul(x, A), b.initializer(name("lora_B"), "float32", [r, outDim], transposed(B, outDim, r, s)));
  }
  if (!alpha) throw new GraphShapeError("a PBLoRA adapter needs α");
  const { r1, r2, numObjectives: k } = spec;
  const r = r1 + r2;
  const u = b.matMul(x, b.initializer(name("pblora_A"), "float32", [inDim, r], transposed(get("pblora_A"), r, inDim)));
  const [u1, u2] = r1 > 0 ? b.split(u, -1, [r1, r2]) : [undefined, u];
  // Row b's core block W2(α_b) = reshape(α_b · W2, r2×r2); u2 · W2(α_b)ᵀ, batched over rows.
  const w2Alpha = b.reshape(b.matMul(alpha, b.initializer(name("pblora_W2"), "float32", [k, r2 * r2], get("pblora_W2"))), [-1, r2, r2]);
  const v2 = b.matMul(u2, b.transposeLast2(w2Alpha));
  const v = u1 ? b.concat([b.matMul(u1, b.initializer(name("pblora_W1"), "float32", [r1, r1], transposed(get("pblora_W1"), r1, r1))), v2], -1) : v2;
  const B = get("pblora_B");
  const outDim = B.length / r;
  return b.matMul(v, b.initializer(name("pblora_B"), "float32", [r, outDim], transposed(B, outDim, r, s)));
}

function simplifiedNorm(b: GraphBuilder, x: Value, gain: Value, eps: number): Value {
  return b.contrib("SimplifiedLayerNormalization", [x, gain], [{ dtype: "float32", shape: x.shape }], {
    axis: { kind: "int", value: -1 },
    epsilon: { kind: "float", value: eps },
    stash_type: { kind: "int", value: 1 },
  })[0];
}

/** [rms(x + residual)·gain, x + residual]. */
function skipNorm(b: GraphBuilder, x: Value, residual: Value, gain: Value, eps: number): { normed: Value; sum: Value } {
  const [normed, , , sum] = b.contrib("SkipSimplifiedLayerNormalization", [x, residual, gain], [
    { dtype: "float32", shape: x.shape },
    { dtype: "float32", shape: [] },
    { dtype: "float32", shape: [] },
    { dtype: "float32", shape: x.shape },
  ], { epsilon: { kind: "float", value: eps } });
  return { normed, sum };
}

/** RoPE tables [maxSeqLen, headDim/2] (cos, sin) for RotaryEmbedding. */
function ropeCaches(config: LlamaConfig): { cos: Float32Array; sin: Float32Array } {
  const half = config.headDim / 2;
  const cos = new Float32Array(config.maxSeqLen * half);
  const sin = new Float32Array(config.maxSeqLen * half);
  for (let t = 0; t < config.maxSeqLen; t++) {
    for (let j = 0; j < half; j++) {
      const angle = t * Math.pow(config.ropeTheta, (-2 * j) / config.headDim);
      cos[t * half + j] = Math.cos(angle);
      sin[t * half + j] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

function checkAdapter(config: LlamaConfig, adapter: LlmAdapter | undefined): void {
  if (!adapter) return;
  validateAdapterSpec(adapter.spec);
  void config;
}

/** Why `config` cannot use this graph (onnxruntime's CPU GroupQueryAttention needs headDim % 8 = 0), or undefined. */
export function llmDecodeUnsupported(config: LlamaConfig): string | undefined {
  if (config.headDim % 8 !== 0) return `headDim ${config.headDim} is not a multiple of 8 (GroupQueryAttention)`;
  return undefined;
}

/** Builds the fast decode graph for `config` over `weights` (see the module comment for its inputs/outputs). */
export function buildLlmDecodeGraph(config: LlamaConfig, weights: DecodeWeights, options: LlmDecodeGraphOptions = {}): SerializedModel {
  validateLlamaConfig(config);
  const unsupported = llmDecodeUnsupported(config);
  if (unsupported) throw new ModelWeightsError("INVALID_CONFIG", `the fast decode graph cannot run this model: ${unsupported}`);
  checkAdapter(config, options.adapter);
  const { dim, nHeads, nKvHeads, headDim: hd, nLayers, vocabSize, normEps } = config;
  const accuracy = options.matMulNBitsAccuracy ?? "int8";
  const project = (x: Value, w: DecodeMatrix, hint: string): Value => projectWith(b, x, w, hint, accuracy);
  const qDim = nHeads * hd;
  const kvDim = nKvHeads * hd;
  const b = new GraphBuilder("llm-decode");
  const h0 = b.input(LLM_IO.embeds, "float32", [REP.B, REP.S, dim], ["batch", "sequence"]);
  const positions = b.input(LLM_IO.positions, "int64", [REP.B, REP.S], ["batch", "sequence"]);
  const seqlens = b.input(LLM_IO.seqlens, "int32", [REP.B], ["batch"]);
  const total = b.input(LLM_IO.total, "int32", []);
  const logitRows = b.input(LLM_IO.logitRows, "int64", [REP.R], ["logit_rows"]);
  const adapter = options.adapter;
  const alpha = adapter?.spec.mode === "pblora" ? b.input(LLM_IO.alpha, "float32", [REP.B, adapter.spec.numObjectives], ["batch", undefined]) : undefined;
  const vector = (name: string): Value => {
    const v = weights.vectors.get(name);
    if (!v) throw new ModelWeightsError("MISSING_TENSOR", `weight "${name}" is missing`);
    return b.initializer(name, "float32", [v.length], v);
  };
  const matrix = (name: string): DecodeMatrix => {
    const m = weights.matrices.get(name);
    if (!m) throw new ModelWeightsError("MISSING_TENSOR", `weight "${name}" is missing`);
    return m;
  };
  const adapted = (y: Value, x: Value, layer: number, target: AdapterTarget): Value =>
    adapter && adapter.spec.targets.includes(target) ? b.add(y, adapterDelta(b, adapter, layer, target, x, alpha)) : y;
  const { cos, sin } = ropeCaches(config);
  const cosCache = b.initializer("rope_cos", "float32", [config.maxSeqLen, hd / 2], cos);
  const sinCache = b.initializer("rope_sin", "float32", [config.maxSeqLen, hd / 2], sin);
  const rope = (x: Value, heads: number): Value =>
    b.contrib("RotaryEmbedding", [x, positions, cosCache, sinCache], [{ dtype: "float32", shape: x.shape }], {
      interleaved: { kind: "int", value: config.ropeLayout === "interleaved" ? 1 : 0 },
      num_heads: { kind: "int", value: heads },
    })[0];

  let residual = h0;
  let x = simplifiedNorm(b, h0, vector("layers.0.attn_norm"), normEps);
  const newKv: { k: Value; v: Value }[] = [];
  for (let l = 0; l < nLayers; l++) {
    const p = `layers.${l}.`;
    const qkv = project(x, stackRows([matrix(`${p}wq`), matrix(`${p}wk`), matrix(`${p}wv`)]), `${p}wqkv`);
    let [q, k, v] = b.split(qkv, -1, [qDim, kvDim, kvDim]);
    if (config.qkvBias) {
      q = b.add(q, vector(`${p}bq`));
      k = b.add(k, vector(`${p}bk`));
      v = b.add(v, vector(`${p}bv`));
    }
    q = rope(adapted(q, x, l, "q"), nHeads);
    k = rope(adapted(k, x, l, "k"), nKvHeads);
    v = adapted(v, x, l, "v");
    newKv.push({ k, v });
    const pastK = b.input(LLM_IO.pastKey(l), "float32", [REP.B, nKvHeads, REP.P, hd], ["batch", undefined, "past", undefined]);
    const pastV = b.input(LLM_IO.pastValue(l), "float32", [REP.B, nKvHeads, REP.P, hd], ["batch", undefined, "past", undefined]);
    const [attn] = b.contrib("GroupQueryAttention", [q, k, v, pastK, pastV, seqlens, total], [
      { dtype: "float32", shape: q.shape },
      { dtype: "float32", shape: [REP.B, nKvHeads, REP.P + REP.S, hd] },
      { dtype: "float32", shape: [REP.B, nKvHeads, REP.P + REP.S, hd] },
    ], { num_heads: { kind: "int", value: nHeads }, kv_num_heads: { kind: "int", value: nKvHeads } });
    const o = adapted(project(attn, matrix(`${p}wo`), `${p}wo`), attn, l, "o");
    const mid = skipNorm(b, o, residual, vector(`${p}ffn_norm`), normEps);
    const xf = mid.normed;
    const gu = project(xf, stackRows([matrix(`${p}w_gate`), matrix(`${p}w_up`)]), `${p}w_gate_up`);
    const [g0, u0] = b.split(gu, -1, [config.ffnDim, config.ffnDim]);
    const g = adapted(g0, xf, l, "gate");
    const u = adapted(u0, xf, l, "up");
    const m = b.mul(b.mul(g, b.sigmoid(g)), u);
    const down = adapted(project(m, matrix(`${p}w_down`), `${p}w_down`), m, l, "down");
    const next = skipNorm(b, down, mid.sum, vector(l + 1 < nLayers ? `layers.${l + 1}.attn_norm` : "norm"), normEps);
    x = next.normed;
    residual = next.sum;
  }
  const rows = b.gather(b.reshape(x, [-1, dim]), logitRows, 0);
  const logits = project(rows, headMatrix(weights), "output");
  if (logits.shape[1] !== vocabSize) throw new ModelWeightsError("SHAPE_MISMATCH", `head has ${logits.shape[1]} rows, vocabulary ${vocabSize}`);
  b.output(logits, LLM_IO.logits, ["logit_rows", undefined]);
  newKv.forEach(({ k, v }, l) => {
    b.output(k, LLM_IO.newKey(l), ["batch", "sequence", undefined]);
    b.output(v, LLM_IO.newValue(l), ["batch", "sequence", undefined]);
  });
  return b.serialize({ externalDataMinBytes: options.externalDataMinBytes ?? 1 << 20 });
}
