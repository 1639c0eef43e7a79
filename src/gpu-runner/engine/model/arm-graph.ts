/**
 * @module engine/model/arm-graph
 * PARM / GenARM autoregressive-reward-model graphs (design.md §4, parm-method.md §2), one per shape bucket.
 *
 * Train graph (forward + appended backward, one run per step). Rows: B2 = 2·pairs; rows [0, pairs) hold each
 * pair's first response, rows [pairs, 2·pairs) its second response, in the same pair order.
 *   inputs   input_ids       [B2, T] int64      right-padded prompt+response tokens
 *            label_positions [B2, R] int64      position t whose next-token log-prob counts (label = token t+1)
 *            label_ids       [B2, R] int64      the label token at each slot
 *            label_mask      [B2, R] float      1 for real slots, 0 for padding
 *            alpha           [pairs, k] float   preference per pair (PBLoRA only; PARM uses one α per batch)
 *            beta            [k] float          β_i per objective
 *            pair_sign       [pairs, k] float   +1 when the first response is preferred under objective i, −1 if not
 *            pair_weight     [pairs, k] float   per-objective pair weights, each column summing to 1 over the pairs
 *                                               that count for it (0 elsewhere): see `normalizePairWeights`
 *            dropout_mask.layers.{i}.{target} [B2, T, in] float   adapter-input dropout mask of each adapted module
 *                                               (only with `adapterDropout: true`): entries 0 or 1/(1−p), PEFT's
 *                                               lora_dropout with the mask drawn by the caller (`dropoutMaskFeeds`)
 *            adapter tensors (as named by pblora.ts) and, with weightsAs "inputs", the frozen weights
 *   outputs  loss [] = Σ_{p,i} α_{p,i}·w_{p,i}·softplus(−β_i·sign_{p,i}·(l_first − l_second))
 *                    (= Σ_i α_i ℓ_i with ℓ_i the mean of −log σ(β_i(l_w − l_l)) over objective i's pairs)
 *            objective_losses [k] = ℓ_i,  margins [pairs] = l_first − l_second,  sequence_logps [B2]
 *            grad.<adapter tensor> for every adapter tensor
 * Log-probs follow TRL: labels shifted by one, prompt masked, EOS counted when labelled, summed not averaged.
 * The head runs only at label slots ([B2, R, V] instead of [B2, T, V]); LogSoftmax+GatherElements use the fused
 * gradient.
 *
 * Score graph: the same inputs per row (alpha [B, k]) → sequence_logps [B]. Logits graph: llama-graph.ts.
 */
import { appendGradients, GraphBuilder, GraphShapeError, type FloatDType, type HostTensor, type Value } from "../onnx/index.ts";
import { EngineError, type EngineErrorOptions } from "../util/errors.ts";
import type { LlamaConfig, ModelWeights } from "./config.ts";
import {
  buildDecoder,
  buildHead,
  declareAdapterTensors,
  finish,
  FrozenWeights,
  gatherPositions,
  type AdapterPlacement,
  type BuiltGraph,
  type DecoderAdapter,
  type WeightsPlacement,
} from "./llama-graph.ts";
import { ADAPTER_TARGETS, adapterObjectives, adapterTensorShapes, dropoutMaskName, targetDims, type AdapterSpec } from "./pblora.ts";

export const ARM_INPUTS = {
  inputIds: "input_ids",
  labelPositions: "label_positions",
  labelIds: "label_ids",
  labelMask: "label_mask",
  alpha: "alpha",
  beta: "beta",
  pairSign: "pair_sign",
  pairWeight: "pair_weight",
} as const;

export const ARM_OUTPUTS = {
  loss: "loss",
  objectiveLosses: "objective_losses",
  margins: "margins",
  sequenceLogps: "sequence_logps",
} as const;

/** Label value TRL uses for positions that do not count. */
export const IGNORE_LABEL = -100;

export class ArmBatchError extends EngineError<"ARM_BATCH_INVALID"> {
  constructor(message: string, options?: EngineErrorOptions) {
    super("ARM_BATCH_INVALID", message, options);
  }
}

export interface ArmGraphOptions {
  readonly batchPairs: number;
  readonly seqLen: number;
  /** Label slots per row (R); default seqLen − 1. Lower it to the longest response in the bucket to save memory. */
  readonly responseLen?: number;
  readonly dtype: FloatDType;
  readonly weightsAs: WeightsPlacement;
  /** Initializers of at least this many bytes go to external data (default 1 MiB). */
  readonly externalDataMinBytes?: number;
  /** Default true; false uses the generic LogSoftmax and GatherElements rules (for comparisons). */
  readonly fuseLogSoftmaxGather?: boolean;
  /** Adds one dropout-mask input per adapted module (PEFT lora_dropout on each adapter's input). Default false. */
  readonly adapterDropout?: boolean;
}

export interface ArmTrainGraph extends BuiltGraph {
  readonly kind: "train";
  readonly spec: AdapterSpec;
  readonly batchPairs: number;
  readonly seqLen: number;
  readonly responseLen: number;
  readonly dtype: FloatDType;
  readonly adapterDropout: boolean;
  /** The dropout-mask inputs (empty without adapterDropout), in a stable order (layer, target). */
  readonly dropoutMasks: readonly { readonly name: string; readonly shape: readonly number[] }[];
  readonly inputNames: readonly string[];
  /** Adapter tensor name → graph output holding its gradient. */
  readonly gradientNames: ReadonlyMap<string, string>;
}

export interface ArmScoreGraph extends BuiltGraph {
  readonly kind: "score";
  readonly spec: AdapterSpec;
  readonly batch: number;
  readonly seqLen: number;
  readonly responseLen: number;
  readonly dtype: FloatDType;
  readonly inputNames: readonly string[];
}

function checkBucket(config: LlamaConfig, rows: number, seqLen: number, responseLen: number): void {
  const int = (v: number, what: string) => {
    if (!Number.isInteger(v) || v < 1) throw new GraphShapeError(`${what} must be a positive integer, got ${v}`);
  };
  int(rows, "batch");
  int(seqLen, "seqLen");
  int(responseLen, "responseLen");
  if (seqLen > config.maxSeqLen) throw new GraphShapeError(`seqLen ${seqLen} exceeds maxSeqLen ${config.maxSeqLen}`, { category: "context-exceeded" });
  if (responseLen > seqLen) throw new GraphShapeError(`responseLen ${responseLen} exceeds seqLen ${seqLen}`);
}

interface LogpInputs {
  readonly ids: Value;
  readonly positions: Value;
  readonly labels: Value;
  readonly mask: Value;
}

function declareLogpInputs(b: GraphBuilder, rows: number, seqLen: number, responseLen: number, dtype: FloatDType): LogpInputs {
  return {
    ids: b.input(ARM_INPUTS.inputIds, "int64", [rows, seqLen]),
    positions: b.input(ARM_INPUTS.labelPositions, "int64", [rows, responseLen]),
    labels: b.input(ARM_INPUTS.labelIds, "int64", [rows, responseLen]),
    mask: b.input(ARM_INPUTS.labelMask, dtype, [rows, responseLen]),
  };
}

/** Σ over label slots of mask · log softmax(head(hidden at position))[label] → [rows]. */
function sequenceLogps(b: GraphBuilder, config: LlamaConfig, frozen: FrozenWeights, io: LogpInputs, adapter: DecoderAdapter): Value {
  const hidden = buildDecoder(b, config, frozen, io.ids, adapter);
  const logits = buildHead(b, frozen, gatherPositions(b, hidden, io.positions)); // [rows, R, V]
  const picked = b.gatherElements(b.logSoftmax(logits, -1), b.unsqueeze(io.labels, [2]), 2); // [rows, R, 1]
  const [rows, slots] = io.labels.shape;
  return b.reduceSum(b.mul(b.reshape(picked, [rows, slots]), io.mask), [1], false);
}

/** One mask input [rows, seqLen, inDim] per adapted layer-target, keyed by its input name. */
function declareDropoutMasks(b: GraphBuilder, config: LlamaConfig, spec: AdapterSpec, rows: number, seqLen: number, dtype: FloatDType): Map<string, Value> {
  const masks = new Map<string, Value>();
  for (let layer = 0; layer < config.nLayers; layer++) {
    for (const target of ADAPTER_TARGETS) {
      if (!spec.targets.includes(target)) continue;
      const name = dropoutMaskName(layer, target);
      masks.set(name, b.input(name, dtype, [rows, seqLen, targetDims(config, target).inDim]));
    }
  }
  return masks;
}

/** Builds the train-step graph for one (batchPairs, seqLen, responseLen) bucket. */
export function buildArmTrainGraph(config: LlamaConfig, weights: ModelWeights, spec: AdapterSpec, options: ArmGraphOptions): ArmTrainGraph {
  const { batchPairs, seqLen, dtype } = options;
  const responseLen = options.responseLen ?? seqLen - 1;
  checkBucket(config, batchPairs, seqLen, responseLen);
  const rows = 2 * batchPairs;
  const k = adapterObjectives(spec);
  const b = new GraphBuilder("arm-train");
  const io = declareLogpInputs(b, rows, seqLen, responseLen, dtype);
  const pairAlpha = spec.mode === "pblora" ? b.input(ARM_INPUTS.alpha, dtype, [batchPairs, k]) : undefined;
  const beta = b.input(ARM_INPUTS.beta, dtype, [k]);
  const sign = b.input(ARM_INPUTS.pairSign, dtype, [batchPairs, k]);
  const weight = b.input(ARM_INPUTS.pairWeight, dtype, [batchPairs, k]);
  const dropoutMasks = options.adapterDropout ? declareDropoutMasks(b, config, spec, rows, seqLen, dtype) : undefined;
  const values = declareAdapterTensors(b, config, spec, dtype, { as: "inputs" });
  const frozen = new FrozenWeights(b, config, weights, dtype, options.weightsAs);
  const rowAlpha = pairAlpha ? b.concat([pairAlpha, pairAlpha], 0) : undefined;
  const logps = sequenceLogps(b, config, frozen, io, { spec, values, alpha: rowAlpha, dropoutMasks });
  b.output(logps, ARM_OUTPUTS.sequenceLogps);
  const [first, second] = b.split(logps, 0, [batchPairs, batchPairs]);
  const margin = b.sub(first, second);
  b.output(margin, ARM_OUTPUTS.margins);
  // z_{p,i} = −β_i · sign_{p,i} · margin_p ; per-pair loss softplus(z) = −log σ(−z).
  const z = b.neg(b.mul(b.mul(sign, beta), b.unsqueeze(margin, [1])));
  const weighted = b.mul(b.stableSoftplus(z), weight); // [pairs, k]
  b.output(b.reduceSum(weighted, [0], false), ARM_OUTPUTS.objectiveLosses);
  const total = b.reduceSum(pairAlpha ? b.mul(weighted, pairAlpha) : weighted, [0, 1], false);
  const loss = b.output(total, ARM_OUTPUTS.loss);
  const grads = appendGradients(b, loss, [...values.values()], { fuseLogSoftmaxGather: options.fuseLogSoftmaxGather ?? true });
  const gradientNames = new Map<string, string>();
  for (const [name, g] of grads) gradientNames.set(name, b.output(g, `grad.${name}`).name);
  const built = finish(b, frozen, options.externalDataMinBytes);
  return {
    ...built,
    kind: "train",
    spec,
    batchPairs,
    seqLen,
    responseLen,
    dtype,
    adapterDropout: dropoutMasks !== undefined,
    dropoutMasks: [...(dropoutMasks ?? new Map<string, Value>()).values()].map((v) => ({ name: v.name, shape: [...v.shape] })),
    inputNames: built.inputs.map((v) => v.name),
    gradientNames,
  };
}

export interface ArmScoreGraphOptions {
  readonly batch: number;
  readonly seqLen: number;
  readonly responseLen?: number;
  readonly dtype: FloatDType;
  readonly weightsAs: WeightsPlacement;
  /** Adapter tensors as inputs (default) or baked in. */
  readonly adapterPlacement?: AdapterPlacement;
  readonly externalDataMinBytes?: number;
}

/** Builds the score graph: per-row summed label log-probs given α per row. */
export function buildArmScoreGraph(config: LlamaConfig, weights: ModelWeights, spec: AdapterSpec, options: ArmScoreGraphOptions): ArmScoreGraph {
  const { batch, seqLen, dtype } = options;
  const responseLen = options.responseLen ?? seqLen - 1;
  checkBucket(config, batch, seqLen, responseLen);
  const b = new GraphBuilder("arm-score");
  const io = declareLogpInputs(b, batch, seqLen, responseLen, dtype);
  const alpha = spec.mode === "pblora" ? b.input(ARM_INPUTS.alpha, dtype, [batch, adapterObjectives(spec)]) : undefined;
  const values = declareAdapterTensors(b, config, spec, dtype, options.adapterPlacement ?? { as: "inputs" });
  const frozen = new FrozenWeights(b, config, weights, dtype, options.weightsAs);
  b.output(sequenceLogps(b, config, frozen, io, { spec, values, alpha }), ARM_OUTPUTS.sequenceLogps);
  const built = finish(b, frozen, options.externalDataMinBytes);
  return { ...built, kind: "score", spec, batch, seqLen, responseLen, dtype, inputNames: built.inputs.map((v) => v.name) };
}

// ------------------------------------------------------------------------------------------------ feeds

/** One tokenized sequence: ids and TRL-aligned labels (labels[t] = ids[t] where it counts, else −100). */
export interface ArmRow {
  readonly ids: readonly number[];
  readonly labels: readonly number[];
}

export interface ArmPair {
  readonly first: ArmRow;
  readonly second: ArmRow;
  /** Per objective: +1 when `first` is preferred, −1 when `second` is. */
  readonly sign: readonly number[];
  /** Per objective: whether this pair counts for it (default: all). */
  readonly counts?: readonly boolean[];
}

function floatArray(dtype: FloatDType, length: number): Float32Array | Float64Array {
  return dtype === "float32" ? new Float32Array(length) : new Float64Array(length);
}

/** Packs rows into input_ids / label_positions / label_ids / label_mask feeds; pads missing rows. */
export function packArmRows(rows: readonly ArmRow[], bucketRows: number, seqLen: number, responseLen: number, padId: number, dtype: FloatDType): Record<string, HostTensor> {
  if (rows.length > bucketRows) throw new ArmBatchError(`${rows.length} rows do not fit a bucket of ${bucketRows}`);
  const ids = new BigInt64Array(bucketRows * seqLen).fill(BigInt(padId));
  const positions = new BigInt64Array(bucketRows * responseLen);
  const labels = new BigInt64Array(bucketRows * responseLen);
  const mask = floatArray(dtype, bucketRows * responseLen);
  rows.forEach((row, r) => {
    if (row.ids.length > seqLen) throw new ArmBatchError(`row ${r}: ${row.ids.length} tokens exceed seqLen ${seqLen}`);
    if (row.labels.length !== row.ids.length) throw new ArmBatchError(`row ${r}: ${row.labels.length} labels for ${row.ids.length} tokens`);
    row.ids.forEach((id, t) => (ids[r * seqLen + t] = BigInt(id)));
    let slot = 0;
    for (let t = 1; t < row.labels.length; t++) {
      if (row.labels[t] === IGNORE_LABEL) continue;
      if (slot >= responseLen) throw new ArmBatchError(`row ${r}: more than responseLen ${responseLen} labelled tokens`);
      positions[r * responseLen + slot] = BigInt(t - 1);
      labels[r * responseLen + slot] = BigInt(row.labels[t]);
      mask[r * responseLen + slot] = 1;
      slot++;
    }
  });
  return {
    [ARM_INPUTS.inputIds]: { dtype: "int64", shape: [bucketRows, seqLen], data: ids },
    [ARM_INPUTS.labelPositions]: { dtype: "int64", shape: [bucketRows, responseLen], data: positions },
    [ARM_INPUTS.labelIds]: { dtype: "int64", shape: [bucketRows, responseLen], data: labels },
    [ARM_INPUTS.labelMask]: { dtype, shape: [bucketRows, responseLen], data: mask },
  };
}

/** Column-normalized pair weights: w_{p,i} = counts_{p,i} / Σ_p counts_{p,i} (a column with no pair is all 0). */
export function normalizePairWeights(counts: readonly (readonly boolean[])[], bucketPairs: number, k: number, dtype: FloatDType): HostTensor {
  const data = floatArray(dtype, bucketPairs * k);
  for (let i = 0; i < k; i++) {
    const n = counts.filter((c) => c[i]).length;
    counts.forEach((c, p) => (data[p * k + i] = c[i] && n > 0 ? 1 / n : 0));
  }
  return { dtype, shape: [bucketPairs, k], data };
}

export interface ArmTrainBatch {
  readonly pairs: readonly ArmPair[];
  /** One α for the batch ([k]) or one per pair ([pairs][k]); PBLoRA only. */
  readonly alpha?: readonly number[] | readonly (readonly number[])[];
  readonly beta: readonly number[];
  readonly padId: number;
  /** Adapter-input dropout for graphs built with `adapterDropout`: ratio p ∈ [0, 1) and the uniform [0, 1) source
   *  the masks are drawn from (`dropoutMaskFeeds`). Absent: every mask is 1 (no dropout). */
  readonly adapterDropout?: { readonly ratio: number; readonly random: () => number };
}

/** Dropout masks of a train graph: each element 0 with probability `ratio` (random() < ratio), else 1/(1 − ratio),
 *  drawn from `random` in mask order then element order (row-major). */
export function dropoutMaskFeeds(graph: ArmTrainGraph, ratio: number, random: () => number): Record<string, HostTensor> {
  if (!(ratio >= 0 && ratio < 1)) throw new ArmBatchError(`adapter dropout must be in [0, 1), got ${ratio}`);
  const keep = 1 / (1 - ratio);
  const feeds: Record<string, HostTensor> = {};
  for (const { name, shape } of graph.dropoutMasks) {
    const data = floatArray(graph.dtype, shape.reduce((n, d) => n * d, 1));
    if (ratio === 0) data.fill(1);
    else for (let i = 0; i < data.length; i++) data[i] = random() < ratio ? 0 : keep;
    feeds[name] = { dtype: graph.dtype, shape, data };
  }
  return feeds;
}

/** Every feed of a train graph except the adapter tensors and frozen weights (see `adapterFeeds`, `frozenFeeds`). */
export function armTrainBatchFeeds(graph: ArmTrainGraph, batch: ArmTrainBatch): Record<string, HostTensor> {
  const { batchPairs, seqLen, responseLen, dtype } = graph;
  const k = adapterObjectives(graph.spec);
  const n = batch.pairs.length;
  if (n === 0 || n > batchPairs) throw new ArmBatchError(`${n} pairs for a bucket of ${batchPairs}`);
  if (batch.beta.length !== k) throw new ArmBatchError(`beta has ${batch.beta.length} entries, expected ${k}`);
  const rows: (ArmRow | undefined)[] = new Array(2 * batchPairs);
  batch.pairs.forEach((p, i) => {
    if (p.sign.length !== k || p.sign.some((s) => s !== 1 && s !== -1)) throw new ArmBatchError(`pair ${i}: sign must be ${k} entries of ±1`);
    if (p.counts && p.counts.length !== k) throw new ArmBatchError(`pair ${i}: counts must have ${k} entries`);
    rows[i] = p.first;
    rows[batchPairs + i] = p.second;
  });
  const empty: ArmRow = { ids: [], labels: [] };
  const feeds = packArmRows(Array.from(rows, (r) => r ?? empty), 2 * batchPairs, seqLen, responseLen, batch.padId, dtype);
  const sign = floatArray(dtype, batchPairs * k);
  batch.pairs.forEach((p, i) => p.sign.forEach((s, j) => (sign[i * k + j] = s)));
  feeds[ARM_INPUTS.pairSign] = { dtype, shape: [batchPairs, k], data: sign };
  feeds[ARM_INPUTS.pairWeight] = normalizePairWeights(batch.pairs.map((p) => p.counts ?? new Array<boolean>(k).fill(true)), batchPairs, k, dtype);
  feeds[ARM_INPUTS.beta] = { dtype, shape: [k], data: dtype === "float32" ? Float32Array.from(batch.beta) : Float64Array.from(batch.beta) };
  if (graph.adapterDropout) {
    Object.assign(feeds, dropoutMaskFeeds(graph, batch.adapterDropout?.ratio ?? 0, batch.adapterDropout?.random ?? Math.random));
  } else if (batch.adapterDropout && batch.adapterDropout.ratio > 0) {
    throw new ArmBatchError("this graph was built without adapterDropout");
  }
  if (graph.spec.mode === "pblora") {
    if (!batch.alpha) throw new ArmBatchError("PBLoRA batches need α");
    const perPair = Array.isArray(batch.alpha[0]) ? (batch.alpha as readonly (readonly number[])[]) : batch.pairs.map(() => batch.alpha as readonly number[]);
    if (perPair.length !== n || perPair.some((a) => a.length !== k)) throw new ArmBatchError(`α must be [${k}] or [${n}][${k}]`);
    const alpha = floatArray(dtype, batchPairs * k);
    perPair.forEach((a, i) => a.forEach((v, j) => (alpha[i * k + j] = v)));
    feeds[ARM_INPUTS.alpha] = { dtype, shape: [batchPairs, k], data: alpha };
  }
  return feeds;
}

/** Adapter tensors as feeds in the graph's dtype (Float32Array data is shared for float32 graphs). */
export function adapterFeeds(config: LlamaConfig, spec: AdapterSpec, tensors: ReadonlyMap<string, Float32Array>, dtype: FloatDType): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  for (const [name, shape] of adapterTensorShapes(config, spec)) {
    const data = tensors.get(name);
    if (!data || data.length !== shape[0] * shape[1]) throw new ArmBatchError(`adapter tensor "${name}" is missing or not [${shape.join(",")}]`);
    feeds[name] = { dtype, shape, data: dtype === "float32" ? data : Float64Array.from(data) };
  }
  return feeds;
}
