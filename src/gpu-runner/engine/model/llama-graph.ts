/**
 * @module engine/model/llama-graph
 * LLaMA-family decoder graphs built from a LlamaConfig and ModelWeights: embedding Gather, pre-RMSNorm blocks,
 * RoPE (interleaved or rotate-half, as a constant ±1 rotation matrix so only MatMul/Mul/Add are needed), causal
 * grouped-query attention with an additive −1e9 mask, SwiGLU MLP, optional q/k/v biases, tied or separate head.
 *
 * Layout contract:
 * - Token ids are right-padded [batch, seqLen] int64; position t of every row has RoPE position t. Padding after
 *   a row's last real token never influences earlier positions (causal mask).
 * - Frozen weights enter the graph in "graph layout": projections transposed to [in, out] (named `<name>.T`),
 *   the head always as `output.T` [dim, vocab] (from tok_embeddings when tied); norms, biases and tok_embeddings
 *   as in config.ts. `frozenWeightFeeds` produces exactly these tensors for graphs built with weights as inputs.
 * - The head runs only at the positions asked for (`positions` [batch, P]), never over the whole sequence.
 * Graphs: logits (`buildLogitsGraph`), prefill with K/V outputs (`buildPrefillGraph`) and a fixed-length
 * KV-cache decode step (`buildDecodeStepGraph`), with host helpers to fill and update the cache.
 * Bad weights or configs raise ModelWeightsError (engine/util) with codes MISSING_TENSOR / SHAPE_MISMATCH /
 * INVALID_CONFIG.
 */
import {
  GraphBuilder,
  GraphShapeError,
  type FloatDType,
  type HostTensor,
  type SerializedModel,
  type Value,
} from "../onnx/index.ts";
import { ModelWeightsError, validateLlamaConfig } from "../util/loaded-model.ts";
import type { LlamaConfig, ModelWeights } from "./config.ts";
import {
  adapterObjectives,
  adapterTensorShapes,
  buildAdapterDelta,
  dropoutMaskName,
  type AdapterSpec,
  type AdapterTarget,
  type AdapterValues,
} from "./pblora.ts";

export type WeightsPlacement = "initializers" | "inputs";

/** Additive attention mask value for masked (future) positions. */
export const MASK_VALUE = -1e9;

interface FrozenTensorSpec {
  readonly graphName: string;
  readonly source: string;
  readonly sourceShape: readonly number[];
  readonly transpose: boolean;
}

/** Every frozen tensor the decoder uses, in graph layout, with where it comes from. */
function frozenTensorSpecs(config: LlamaConfig): FrozenTensorSpec[] {
  const { dim, vocabSize, ffnDim } = config;
  const q = config.nHeads * config.headDim;
  const kv = config.nKvHeads * config.headDim;
  const specs: FrozenTensorSpec[] = [{ graphName: "tok_embeddings", source: "tok_embeddings", sourceShape: [vocabSize, dim], transpose: false }];
  const proj = (name: string, out: number, inp: number) => specs.push({ graphName: `${name}.T`, source: name, sourceShape: [out, inp], transpose: true });
  const vec = (name: string, n: number) => specs.push({ graphName: name, source: name, sourceShape: [n], transpose: false });
  for (let i = 0; i < config.nLayers; i++) {
    const p = `layers.${i}.`;
    vec(`${p}attn_norm`, dim);
    proj(`${p}wq`, q, dim);
    proj(`${p}wk`, kv, dim);
    proj(`${p}wv`, kv, dim);
    if (config.qkvBias) {
      vec(`${p}bq`, q);
      vec(`${p}bk`, kv);
      vec(`${p}bv`, kv);
    }
    proj(`${p}wo`, dim, q);
    vec(`${p}ffn_norm`, dim);
    proj(`${p}w_gate`, ffnDim, dim);
    proj(`${p}w_up`, ffnDim, dim);
    proj(`${p}w_down`, dim, ffnDim);
  }
  vec("norm", dim);
  specs.push({
    graphName: "output.T",
    source: config.tiedEmbeddings ? "tok_embeddings" : "output",
    sourceShape: [vocabSize, dim],
    transpose: true,
  });
  return specs;
}

/** The shared config check plus what graphs need beyond it (a known RoPE layout). */
function checkGraphConfig(config: LlamaConfig): void {
  validateLlamaConfig(config);
  if (config.ropeLayout !== "interleaved" && config.ropeLayout !== "rotate-half") {
    throw new ModelWeightsError("INVALID_CONFIG", `config.ropeLayout must be "interleaved" or "rotate-half", got ${String(config.ropeLayout)}`);
  }
}

const graphLayoutCache = new WeakMap<ModelWeights, Map<string, Map<string, HostTensor>>>();

/** The frozen tensors in graph layout and `dtype` (cached per weights object and dtype). */
export function frozenWeightFeeds(config: LlamaConfig, weights: ModelWeights, dtype: FloatDType): ReadonlyMap<string, HostTensor> {
  checkGraphConfig(config);
  const key = `${dtype}:${JSON.stringify(config)}`;
  let perWeights = graphLayoutCache.get(weights);
  if (!perWeights) graphLayoutCache.set(weights, (perWeights = new Map()));
  const hit = perWeights.get(key);
  if (hit) return hit;
  const out = new Map<string, HostTensor>();
  for (const spec of frozenTensorSpecs(config)) {
    const w = weights.get(spec.source);
    if (!w) throw new ModelWeightsError("MISSING_TENSOR", `weight "${spec.source}" is missing`);
    if (w.shape.length !== spec.sourceShape.length || w.shape.some((d, i) => d !== spec.sourceShape[i])) {
      throw new ModelWeightsError("SHAPE_MISMATCH", `weight "${spec.source}" has shape [${w.shape.join(",")}], expected [${spec.sourceShape.join(",")}]`);
    }
    if (w.data.length !== spec.sourceShape.reduce((p, d) => p * d, 1)) throw new ModelWeightsError("SHAPE_MISMATCH", `weight "${spec.source}" has ${w.data.length} values for its shape`);
    let data: Float32Array | Float64Array;
    let shape: number[];
    if (spec.transpose) {
      const [rows, cols] = spec.sourceShape;
      data = dtype === "float32" ? new Float32Array(rows * cols) : new Float64Array(rows * cols);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) data[c * rows + r] = w.data[r * cols + c];
      shape = [cols, rows];
    } else {
      data = dtype === "float32" ? w.data : Float64Array.from(w.data);
      shape = [...spec.sourceShape];
    }
    out.set(spec.graphName, { dtype, shape, data });
  }
  perWeights.set(key, out);
  return out;
}

/** Declares frozen tensors on first use, as initializers or graph inputs. */
export class FrozenWeights {
  private readonly values = new Map<string, Value>();
  private readonly tensors: ReadonlyMap<string, HostTensor>;

  constructor(
    private readonly b: GraphBuilder,
    config: LlamaConfig,
    weights: ModelWeights,
    readonly dtype: FloatDType,
    readonly placement: WeightsPlacement,
  ) {
    this.tensors = frozenWeightFeeds(config, weights, dtype);
  }

  get(graphName: string): Value {
    const hit = this.values.get(graphName);
    if (hit) return hit;
    const t = this.tensors.get(graphName);
    if (!t) throw new ModelWeightsError("MISSING_TENSOR", `no frozen tensor "${graphName}"`);
    const v = this.placement === "inputs" ? this.b.input(graphName, t.dtype, t.shape) : this.b.initializer(graphName, t.dtype, t.shape, t.data);
    this.values.set(graphName, v);
    return v;
  }

  /** Feeds for the frozen tensors this graph declared as inputs (empty with initializers). */
  feeds(): Record<string, HostTensor> {
    const out: Record<string, HostTensor> = {};
    if (this.placement === "inputs") for (const name of this.values.keys()) out[name] = this.tensors.get(name)!;
    return out;
  }
}

/** The adapter wired into a decoder: spec, its tensors as graph values, and α [batch, k] for PBLoRA. */
export interface DecoderAdapter {
  readonly spec: AdapterSpec;
  readonly values: AdapterValues;
  readonly alpha?: Value;
  /** Adapter-input dropout masks by `dropoutMaskName(layer, target)` (training graphs); absent: no dropout. */
  readonly dropoutMasks?: ReadonlyMap<string, Value>;
}

function ropeTables(config: LlamaConfig, seqLen: number): { cos: Float64Array; sin: Float64Array; rot: Float64Array } {
  const hd = config.headDim;
  const half = hd / 2;
  const cos = new Float64Array(seqLen * hd);
  const sin = new Float64Array(seqLen * hd);
  const rot = new Float64Array(hd * hd); // x·rot = rotated partner with sign, [in, out]
  for (let j = 0; j < half; j++) {
    const freq = Math.pow(config.ropeTheta, (-2 * j) / hd);
    const [a, c] = config.ropeLayout === "interleaved" ? [2 * j, 2 * j + 1] : [j, j + half];
    for (let t = 0; t < seqLen; t++) {
      const angle = t * freq;
      cos[t * hd + a] = cos[t * hd + c] = Math.cos(angle);
      sin[t * hd + a] = sin[t * hd + c] = Math.sin(angle);
    }
    rot[c * hd + a] = -1; // out[a] = −x[c]
    rot[a * hd + c] = 1; // out[c] = x[a]
  }
  return { cos, sin, rot };
}

function floatConst(b: GraphBuilder, dtype: FloatDType, shape: number[], data: Float64Array, hint: string): Value {
  return b.constant(dtype, shape, dtype === "float32" ? Float32Array.from(data) : data, hint);
}

function rmsNorm(b: GraphBuilder, x: Value, gain: Value, eps: number, dtype: FloatDType): Value {
  const meanSquare = b.reduceMean(b.mul(x, x), [-1], true);
  const inv = b.reciprocal(b.sqrt(b.add(meanSquare, b.scalar(eps, dtype))));
  return b.mul(b.mul(x, inv), gain);
}

/**
 * How a decoder attends: RoPE tables broadcastable to q [B,KV,G,Tq,hd] and k [B,KV,Tq,hd], and `attend`, which
 * receives roped q, roped k and v of the current tokens and returns the context [B,KV,G,Tq,hd].
 */
interface AttentionStrategy {
  readonly qCos: Value;
  readonly qSin: Value;
  readonly kCos: Value;
  readonly kSin: Value;
  attend(layer: number, q: Value, k: Value, v: Value): Value;
}

/** Full causal self-attention over the sequence; records each layer's roped K and V (`present`). */
function causalAttention(b: GraphBuilder, config: LlamaConfig, seqLen: number, dtype: FloatDType): AttentionStrategy & { present: { k: Value; v: Value }[] } {
  const hd = config.headDim;
  const rope = ropeTables(config, seqLen);
  const cos = floatConst(b, dtype, [seqLen, hd], rope.cos, "rope_cos");
  const sin = floatConst(b, dtype, [seqLen, hd], rope.sin, "rope_sin");
  const mask = new Float64Array(seqLen * seqLen);
  for (let i = 0; i < seqLen; i++) for (let j = i + 1; j < seqLen; j++) mask[i * seqLen + j] = MASK_VALUE;
  const causal = floatConst(b, dtype, [seqLen, seqLen], mask, "causal_mask");
  const scale = b.scalar(1 / Math.sqrt(hd), dtype);
  const present: { k: Value; v: Value }[] = [];
  return {
    qCos: cos,
    qSin: sin,
    kCos: cos,
    kSin: sin,
    present,
    attend(_layer, q, k, v) {
      present.push({ k, v });
      const scores = b.add(b.matMul(b.mul(q, scale), b.transposeLast2(b.unsqueeze(k, [2]))), causal);
      return b.matMul(b.softmax(scores, -1), b.unsqueeze(v, [2]));
    },
  };
}

/**
 * Appends the decoder blocks to `b` for token ids [batch, Tq] under an attention strategy and returns the
 * final-normed hidden states [batch, Tq, dim].
 */
function decoderBlocks(
  b: GraphBuilder,
  config: LlamaConfig,
  frozen: FrozenWeights,
  ids: Value,
  attention: AttentionStrategy,
  adapter?: DecoderAdapter,
): Value {
  if (adapter?.spec.mode === "pblora" && !adapter.alpha) throw new GraphShapeError("a PBLoRA adapter needs α");
  const [batch, seqLen] = ids.shape;
  const dtype = frozen.dtype;
  const { nHeads, nKvHeads, headDim: hd } = config;
  const group = nHeads / nKvHeads;
  const rot = floatConst(b, dtype, [hd, hd], ropeTables(config, 0).rot, "rope_rot");
  const applyRope = (x: Value, cos: Value, sin: Value): Value => b.add(b.mul(x, cos), b.mul(b.matMul(x, rot), sin));

  const linear = (x: Value, layer: number, target: AdapterTarget, weight: string, bias?: string): Value => {
    let y = b.matMul(x, frozen.get(`layers.${layer}.${weight}.T`));
    if (bias) y = b.add(y, frozen.get(`layers.${layer}.${bias}`));
    if (adapter && adapter.spec.targets.includes(target)) {
      y = b.add(y, buildAdapterDelta(b, adapter.spec, adapter.values, layer, target, x, adapter.alpha, adapter.dropoutMasks?.get(dropoutMaskName(layer, target))));
    }
    return y;
  };

  let h = b.gather(frozen.get("tok_embeddings"), ids, 0);
  for (let layer = 0; layer < config.nLayers; layer++) {
    const xn = rmsNorm(b, h, frozen.get(`layers.${layer}.attn_norm`), config.normEps, dtype);
    const q = linear(xn, layer, "q", "wq", config.qkvBias ? "bq" : undefined);
    const k = linear(xn, layer, "k", "wk", config.qkvBias ? "bk" : undefined);
    const v = linear(xn, layer, "v", "wv", config.qkvBias ? "bv" : undefined);
    // q: [B,T,KV,G,hd] → [B,KV,G,T,hd]; head h = kv·G + g uses kv head kv. k, v: [B,KV,T,hd].
    const qh = applyRope(b.transpose(b.reshape(q, [batch, seqLen, nKvHeads, group, hd]), [0, 2, 3, 1, 4]), attention.qCos, attention.qSin);
    const kh = applyRope(b.transpose(b.reshape(k, [batch, seqLen, nKvHeads, hd]), [0, 2, 1, 3]), attention.kCos, attention.kSin);
    const vh = b.transpose(b.reshape(v, [batch, seqLen, nKvHeads, hd]), [0, 2, 1, 3]);
    const context = attention.attend(layer, qh, kh, vh); // [B,KV,G,T,hd]
    const merged = b.reshape(b.transpose(context, [0, 3, 1, 2, 4]), [batch, seqLen, nHeads * hd]);
    h = b.add(h, linear(merged, layer, "o", "wo"));
    const xf = rmsNorm(b, h, frozen.get(`layers.${layer}.ffn_norm`), config.normEps, dtype);
    const gate = linear(xf, layer, "gate", "w_gate");
    const up = linear(xf, layer, "up", "w_up");
    h = b.add(h, linear(b.mul(b.mul(gate, b.sigmoid(gate)), up), layer, "down", "w_down"));
  }
  return rmsNorm(b, h, frozen.get("norm"), config.normEps, dtype);
}

function checkIds(config: LlamaConfig, ids: Value): void {
  checkGraphConfig(config);
  if (ids.dtype !== "int64" || ids.shape.length !== 2) throw new GraphShapeError(`token ids must be int64 [batch, seqLen], got ${ids.dtype} [${ids.shape.join(",")}]`);
  if (ids.shape[1] > config.maxSeqLen) throw new GraphShapeError(`seqLen ${ids.shape[1]} exceeds the model's maxSeqLen ${config.maxSeqLen}`, { category: "context-exceeded" });
}

/**
 * Appends the decoder to `b`: ids [batch, seqLen] int64 → final-normed hidden states [batch, seqLen, dim].
 */
export function buildDecoder(
  b: GraphBuilder,
  config: LlamaConfig,
  frozen: FrozenWeights,
  ids: Value,
  adapter?: DecoderAdapter,
): Value {
  checkIds(config, ids);
  return decoderBlocks(b, config, frozen, ids, causalAttention(b, config, ids.shape[1], frozen.dtype), adapter);
}

/** Like `buildDecoder`, and also returns each layer's roped keys and values [batch, nKvHeads, seqLen, headDim]. */
export function buildDecoderWithCache(
  b: GraphBuilder,
  config: LlamaConfig,
  frozen: FrozenWeights,
  ids: Value,
  adapter?: DecoderAdapter,
): { hidden: Value; present: readonly { k: Value; v: Value }[] } {
  checkIds(config, ids);
  const attention = causalAttention(b, config, ids.shape[1], frozen.dtype);
  const hidden = decoderBlocks(b, config, frozen, ids, attention, adapter);
  return { hidden, present: attention.present };
}

/** Rows of hidden [batch, T, dim] at positions [batch, P] int64 → [batch, P, dim]. */
export function gatherPositions(b: GraphBuilder, hidden: Value, positions: Value): Value {
  const [batch, , dim] = hidden.shape;
  if (positions.dtype !== "int64" || positions.shape.length !== 2 || positions.shape[0] !== batch) {
    throw new GraphShapeError(`positions must be int64 [${batch}, P], got ${positions.dtype} [${positions.shape.join(",")}]`);
  }
  const idx = b.expand(b.unsqueeze(positions, [2]), [batch, positions.shape[1], dim]);
  return b.gatherElements(hidden, idx, 1);
}

/** The LM head: hidden [..., dim] → logits [..., vocab]. */
export function buildHead(b: GraphBuilder, frozen: FrozenWeights, hidden: Value): Value {
  return b.matMul(hidden, frozen.get("output.T"));
}

/** How adapter tensors enter a graph: as inputs (training, many adapters) or baked-in initializers. */
export type AdapterPlacement =
  | { readonly as: "inputs" }
  | { readonly as: "initializers"; readonly tensors: ReadonlyMap<string, Float32Array> };

/** Declares the adapter's tensors on `b` in `dtype`; returns them by name. */
export function declareAdapterTensors(
  b: GraphBuilder,
  config: LlamaConfig,
  spec: AdapterSpec,
  dtype: FloatDType,
  placement: AdapterPlacement,
): Map<string, Value> {
  const values = new Map<string, Value>();
  for (const [name, shape] of adapterTensorShapes(config, spec)) {
    if (placement.as === "inputs") {
      values.set(name, b.input(name, dtype, shape));
    } else {
      const data = placement.tensors.get(name);
      if (!data || data.length !== shape[0] * shape[1]) throw new ModelWeightsError("MISSING_TENSOR", `adapter tensor "${name}" is missing or not [${shape.join(",")}]`);
      values.set(name, b.initializer(name, dtype, shape, dtype === "float32" ? data : Float64Array.from(data)));
    }
  }
  return values;
}

/** A built graph: the model and the names, dtypes and shapes of its inputs and outputs. */
export interface BuiltGraph extends SerializedModel {
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  /** Feeds for frozen weights declared as inputs (empty when they are initializers). */
  readonly frozenFeeds: Readonly<Record<string, HostTensor>>;
}

export interface LogitsGraphOptions {
  readonly batch: number;
  readonly seqLen: number;
  /** Number of positions per row at which logits are produced. */
  readonly positions: number;
  readonly dtype: FloatDType;
  readonly weightsAs: WeightsPlacement;
  readonly adapter?: { readonly spec: AdapterSpec; readonly placement: AdapterPlacement };
  /** Initializers of at least this many bytes go to external data (default 1 MiB). */
  readonly externalDataMinBytes?: number;
}

/**
 * Logits graph (decoding, scoring by the caller). Inputs: `input_ids` [B,T] int64, `positions` [B,P] int64,
 * `alpha` [B,k] (PBLoRA only), adapter tensors (placement "inputs"), frozen weights (weightsAs "inputs").
 * Output: `logits` [B,P,vocab].
 */
export function buildLogitsGraph(config: LlamaConfig, weights: ModelWeights, options: LogitsGraphOptions): BuiltGraph {
  const b = new GraphBuilder("llama-logits");
  const ids = b.input("input_ids", "int64", [options.batch, options.seqLen]);
  const positions = b.input("positions", "int64", [options.batch, options.positions]);
  const adapter = declareAdapter(b, config, options.batch, options.dtype, options.adapter);
  const frozen = new FrozenWeights(b, config, weights, options.dtype, options.weightsAs);
  const hidden = buildDecoder(b, config, frozen, ids, adapter);
  b.output(buildHead(b, frozen, gatherPositions(b, hidden, positions)), "logits");
  return finish(b, frozen, options.externalDataMinBytes);
}

/** Serializes `b` into a BuiltGraph. */
export function finish(b: GraphBuilder, frozen: FrozenWeights, externalDataMinBytes = 1 << 20): BuiltGraph {
  const model = b.serialize({ externalDataMinBytes });
  return { ...model, inputs: [...b.inputs], outputs: [...b.outputs], frozenFeeds: frozen.feeds() };
}

// ------------------------------------------------------------------------------------------------ KV-cache decoding

/** Names of the cache tensors of layer `layer`. */
export const kvNames = (layer: number) =>
  ({
    presentK: `present_k.${layer}`,
    presentV: `present_v.${layer}`,
    pastK: `past_k.${layer}`,
    pastV: `past_v.${layer}`,
    newK: `new_k.${layer}`,
    newV: `new_v.${layer}`,
  }) as const;

function declareAdapter(b: GraphBuilder, config: LlamaConfig, batch: number, dtype: FloatDType, adapter: LogitsGraphOptions["adapter"]): DecoderAdapter | undefined {
  if (!adapter) return undefined;
  const { spec } = adapter;
  const alpha = spec.mode === "pblora" ? b.input("alpha", dtype, [batch, adapterObjectives(spec)]) : undefined;
  return { spec, alpha, values: declareAdapterTensors(b, config, spec, dtype, adapter.placement) };
}

/**
 * Prefill graph: the logits graph plus every layer's roped keys and values over the prompt,
 * `present_k.{l}` / `present_v.{l}` [B, nKvHeads, seqLen, headDim], to seed a KV cache (`prefillIntoCache`).
 */
export function buildPrefillGraph(config: LlamaConfig, weights: ModelWeights, options: LogitsGraphOptions): BuiltGraph {
  const b = new GraphBuilder("llama-prefill");
  const ids = b.input("input_ids", "int64", [options.batch, options.seqLen]);
  const positions = b.input("positions", "int64", [options.batch, options.positions]);
  const adapter = declareAdapter(b, config, options.batch, options.dtype, options.adapter);
  const frozen = new FrozenWeights(b, config, weights, options.dtype, options.weightsAs);
  const { hidden, present } = buildDecoderWithCache(b, config, frozen, ids, adapter);
  b.output(buildHead(b, frozen, gatherPositions(b, hidden, positions)), "logits");
  present.forEach(({ k, v }, layer) => {
    b.output(k, kvNames(layer).presentK);
    b.output(v, kvNames(layer).presentV);
  });
  return finish(b, frozen, options.externalDataMinBytes);
}

export interface DecodeStepGraphOptions {
  readonly batch: number;
  /** Cached positions per row (the cache tensors' time axis). */
  readonly cacheLen: number;
  readonly dtype: FloatDType;
  readonly weightsAs: WeightsPlacement;
  readonly adapter?: { readonly spec: AdapterSpec; readonly placement: AdapterPlacement };
  readonly externalDataMinBytes?: number;
}

/**
 * One decoding step with a KV cache of fixed length (one graph per (batch, cacheLen) bucket; rows may sit at
 * different positions). Inputs: `input_ids` [B,1] (each row's new token), `position` [B] int64 (its position
 * p_b ≤ cacheLen), `cache_mask` [B, cacheLen] float (0 at cached positions < p_b, MASK_VALUE elsewhere: see
 * `cacheMask`), `past_k.{l}` / `past_v.{l}` [B, nKvHeads, cacheLen, headDim], `alpha` [B,k] (PBLoRA), adapter
 * tensors and frozen weights as placed. Outputs: `logits` [B, vocab] and the new token's roped key and value
 * `new_k.{l}` / `new_v.{l}` [B, nKvHeads, 1, headDim], which the caller writes at p_b (`writeStepIntoCache`).
 * Attention always spans all cacheLen + 1 slots; masked slots get weight exp(−1e9) = 0.
 */
export function buildDecodeStepGraph(config: LlamaConfig, weights: ModelWeights, options: DecodeStepGraphOptions): BuiltGraph {
  checkGraphConfig(config);
  const { batch, cacheLen, dtype } = options;
  if (!Number.isInteger(cacheLen) || cacheLen < 1 || cacheLen >= config.maxSeqLen + 1) {
    throw new GraphShapeError(`cacheLen must be in [1, ${config.maxSeqLen}], got ${cacheLen}`, { category: "context-exceeded" });
  }
  const { nKvHeads, headDim: hd } = config;
  const b = new GraphBuilder("llama-decode-step");
  const ids = b.input("input_ids", "int64", [batch, 1]);
  const position = b.input("position", "int64", [batch]);
  const mask = b.input("cache_mask", dtype, [batch, cacheLen]);
  const past = Array.from({ length: config.nLayers }, (_, layer) => ({
    k: b.input(kvNames(layer).pastK, dtype, [batch, nKvHeads, cacheLen, hd]),
    v: b.input(kvNames(layer).pastV, dtype, [batch, nKvHeads, cacheLen, hd]),
  }));
  const adapter = declareAdapter(b, config, batch, dtype, options.adapter);
  const frozen = new FrozenWeights(b, config, weights, dtype, options.weightsAs);
  const rope = ropeTables(config, cacheLen + 1);
  const cosRows = b.gather(floatConst(b, dtype, [cacheLen + 1, hd], rope.cos, "rope_cos"), position, 0); // [B,hd]
  const sinRows = b.gather(floatConst(b, dtype, [cacheLen + 1, hd], rope.sin, "rope_sin"), position, 0);
  const fullMask = b.reshape(b.concat([mask, b.zeros([batch, 1], dtype)], 1), [batch, 1, 1, 1, cacheLen + 1]);
  const scale = b.scalar(1 / Math.sqrt(hd), dtype);
  const fresh: { k: Value; v: Value }[] = [];
  const attention: AttentionStrategy = {
    qCos: b.reshape(cosRows, [batch, 1, 1, 1, hd]),
    qSin: b.reshape(sinRows, [batch, 1, 1, 1, hd]),
    kCos: b.reshape(cosRows, [batch, 1, 1, hd]),
    kSin: b.reshape(sinRows, [batch, 1, 1, hd]),
    attend(layer, q, k, v) {
      fresh.push({ k, v });
      const keys = b.unsqueeze(b.concat([past[layer].k, k], 2), [2]); // [B,KV,1,cacheLen+1,hd]
      const values = b.unsqueeze(b.concat([past[layer].v, v], 2), [2]);
      const scores = b.add(b.matMul(b.mul(q, scale), b.transposeLast2(keys)), fullMask);
      return b.matMul(b.softmax(scores, -1), values);
    },
  };
  const hidden = decoderBlocks(b, config, frozen, ids, attention, adapter);
  b.output(b.reshape(buildHead(b, frozen, hidden), [batch, config.vocabSize]), "logits");
  fresh.forEach(({ k, v }, layer) => {
    b.output(k, kvNames(layer).newK);
    b.output(v, kvNames(layer).newV);
  });
  return finish(b, frozen, options.externalDataMinBytes);
}

/** The `cache_mask` feed: row b sees cached positions [0, positions[b]). */
export function cacheMask(positions: readonly number[], cacheLen: number, dtype: FloatDType): HostTensor {
  const data = dtype === "float32" ? new Float32Array(positions.length * cacheLen) : new Float64Array(positions.length * cacheLen);
  positions.forEach((p, r) => {
    if (!Number.isInteger(p) || p < 0 || p > cacheLen) throw new GraphShapeError(`position ${p} of row ${r} is outside [0, ${cacheLen}]`);
    for (let j = p; j < cacheLen; j++) data[r * cacheLen + j] = MASK_VALUE;
  });
  return { dtype, shape: [positions.length, cacheLen], data };
}

/** A zeroed cache tensor [batch, nKvHeads, cacheLen, headDim]. */
export function emptyCache(config: LlamaConfig, batch: number, cacheLen: number, dtype: FloatDType): HostTensor {
  const n = batch * config.nKvHeads * cacheLen * config.headDim;
  return { dtype, shape: [batch, config.nKvHeads, cacheLen, config.headDim], data: dtype === "float32" ? new Float32Array(n) : new Float64Array(n) };
}

/** Copies a prefill's present tensor [B,KV,T,hd] into the first T slots of a cache tensor [B,KV,cacheLen,hd]. */
export function prefillIntoCache(cache: HostTensor, present: HostTensor): void {
  const [B, KV, L, hd] = cache.shape;
  const [pb, pkv, T, phd] = present.shape;
  if (pb !== B || pkv !== KV || phd !== hd || T > L) {
    throw new GraphShapeError(`present [${present.shape.join(",")}] does not fit cache [${cache.shape.join(",")}]`);
  }
  const dst = cache.data as Float32Array | Float64Array;
  const src = present.data as Float32Array | Float64Array;
  for (let r = 0; r < B * KV; r++) dst.set(src.subarray(r * T * hd, (r + 1) * T * hd), r * L * hd);
}

/** Writes a step's new key or value [B,KV,1,hd] into the cache [B,KV,cacheLen,hd] at each row's position. */
export function writeStepIntoCache(cache: HostTensor, step: HostTensor, positions: readonly number[]): void {
  const [B, KV, L, hd] = cache.shape;
  if (step.shape[0] !== B || step.shape[1] !== KV || step.shape[2] !== 1 || step.shape[3] !== hd || positions.length !== B) {
    throw new GraphShapeError(`step [${step.shape.join(",")}] with ${positions.length} positions does not fit cache [${cache.shape.join(",")}]`);
  }
  const dst = cache.data as Float32Array | Float64Array;
  const src = step.data as Float32Array | Float64Array;
  for (let r = 0; r < B; r++) {
    const p = positions[r];
    if (p < 0 || p >= L) throw new GraphShapeError(`position ${p} of row ${r} is outside the cache (length ${L})`);
    for (let kv = 0; kv < KV; kv++) dst.set(src.subarray((r * KV + kv) * hd, (r * KV + kv + 1) * hd), ((r * KV + kv) * L + p) * hd);
  }
}
