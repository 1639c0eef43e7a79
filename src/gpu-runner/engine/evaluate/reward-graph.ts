/**
 * @module engine/evaluate/reward-graph
 * Scalar reward-model graphs (the evaluators of an evaluation sweep): the LLaMA backbone (final hidden state,
 * after the final RMSNorm) with a plain LoRA adapter (model/pblora.ts, mode "lora") and a linear score head
 * `score.weight` [1, dim]. Pooling says where the head reads the final hidden states h_t:
 *   "last": r(x, y) = h_last · score.weightᵀ, the last token of the sequence (its EOS when the response was not
 *           truncated) — the usual reward-model head;
 *   "mean": r(x, y) = (1/|R|) Σ_{t∈R} h_t · score.weightᵀ over the response positions R (first response token
 *           through the last token, EOS included). Every response token is read directly, and the reward does
 *           not grow with response length (a length-controlled reward for backbones too small to summarise a
 *           response in one hidden state).
 *
 * Train graph (forward + appended backward). Rows: B2 = 2·pairs; row p is pair p's first response, row pairs+p
 * its second (as in model/arm-graph.ts).
 *   inputs   input_ids      [B2, T] int64   right-padded BOS + prompt + response + EOS
 *            last_positions [B2, 1] int64   index of each row's last real token          (pooling "last")
 *            response_weights [B2, T] float 1/|R| on each row's response positions, else 0  (pooling "mean")
 *            pair_sign      [pairs] float   +1 when the first response is preferred, −1 when the second is
 *            pair_weight    [pairs] float   1/n for the n real pairs of the batch, 0 for padding pairs
 *            adapter tensors (lora_A, lora_B per layer and target) and `score.weight`
 *   outputs  loss [] = Σ_p w_p · softplus(−s_p · (r_first − r_second))   (Bradley–Terry: mean −log σ(r_w − r_l))
 *            rewards [B2], margins [pairs] = r_first − r_second, grad.<tensor> for every trainable tensor
 * Score graph: input_ids, last_positions or response_weights → rewards [B].
 */
import { appendGradients, GraphBuilder, GraphShapeError, type FloatDType, type HostTensor, type Value } from "../onnx/index.ts";
import type { LlamaConfig, ModelWeights } from "../model/config.ts";
import { buildDecoder, declareAdapterTensors, finish, FrozenWeights, gatherPositions, type BuiltGraph, type WeightsPlacement } from "../model/llama-graph.ts";
import { adapterTensorShapes, type LoraSpec } from "../model/pblora.ts";
import { EngineError } from "../util/errors.ts";

export const REWARD_INPUTS = {
  inputIds: "input_ids",
  lastPositions: "last_positions",
  responseWeights: "response_weights",
  pairSign: "pair_sign",
  pairWeight: "pair_weight",
} as const;

export const REWARD_OUTPUTS = {
  loss: "loss",
  rewards: "rewards",
  margins: "margins",
} as const;

/** Name of the score head tensor, shape [1, dim]. */
export const SCORE_HEAD = "score.weight";

/** Where the score head reads the hidden states (module comment). */
export const REWARD_POOLINGS = ["last", "mean"] as const;
export type RewardPooling = (typeof REWARD_POOLINGS)[number];

export type RewardBatchErrorCode = "INVALID_BATCH" | "INVALID_TENSORS";

export class RewardBatchError extends EngineError<RewardBatchErrorCode> {}

/** One tokenized sequence for the reward model. */
export interface RewardRow {
  readonly ids: readonly number[];
  /** Index of the first response token (the prompt's length, BOS included); required by pooling "mean". */
  readonly responseStart?: number;
}

export interface RewardPair {
  readonly first: RewardRow;
  readonly second: RewardRow;
  /** +1 when `first` is preferred, −1 when `second` is. */
  readonly sign: 1 | -1;
}

export interface RewardGraphOptions {
  readonly seqLen: number;
  readonly dtype: FloatDType;
  readonly weightsAs: WeightsPlacement;
  readonly externalDataMinBytes?: number;
  /** Default "last". */
  readonly pooling?: RewardPooling;
}

export interface RewardTrainGraph extends BuiltGraph {
  readonly kind: "reward-train";
  readonly spec: LoraSpec;
  readonly batchPairs: number;
  readonly seqLen: number;
  readonly dtype: FloatDType;
  readonly pooling: RewardPooling;
  /** Trainable tensor name (adapter tensors and `score.weight`) → graph output holding its gradient. */
  readonly gradientNames: ReadonlyMap<string, string>;
}

export interface RewardScoreGraph extends BuiltGraph {
  readonly kind: "reward-score";
  readonly spec: LoraSpec;
  readonly batch: number;
  readonly seqLen: number;
  readonly dtype: FloatDType;
  readonly pooling: RewardPooling;
}

/** Every trainable tensor (LoRA tensors, then the score head) and its shape. */
export function rewardTensorShapes(config: LlamaConfig, spec: LoraSpec): Map<string, readonly number[]> {
  const shapes = adapterTensorShapes(config, spec);
  shapes.set(SCORE_HEAD, [1, config.dim]);
  return shapes;
}

function checkBucket(config: LlamaConfig, rows: number, seqLen: number, pooling: RewardPooling): void {
  if (!REWARD_POOLINGS.includes(pooling)) throw new GraphShapeError(`pooling must be one of ${REWARD_POOLINGS.join(", ")}, got ${JSON.stringify(pooling)}`);
  if (!Number.isInteger(rows) || rows < 1) throw new GraphShapeError(`batch must be a positive integer, got ${rows}`);
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new GraphShapeError(`seqLen must be a positive integer, got ${seqLen}`);
  if (seqLen > config.maxSeqLen) throw new GraphShapeError(`seqLen ${seqLen} exceeds maxSeqLen ${config.maxSeqLen}`, { category: "context-exceeded" });
}

/** Appends backbone + LoRA + score head; returns rewards [rows]. */
function rewards(b: GraphBuilder, config: LlamaConfig, frozen: FrozenWeights, spec: LoraSpec, rows: number, seqLen: number, dtype: FloatDType, pooling: RewardPooling, values: Map<string, Value>): Value {
  const ids = b.input(REWARD_INPUTS.inputIds, "int64", [rows, seqLen]);
  const head = values.get(SCORE_HEAD)!;
  if (head.dtype !== dtype) throw new GraphShapeError(`score head is ${head.dtype}, activations are ${dtype}`);
  switch (pooling) {
    case "last": {
      const last = b.input(REWARD_INPUTS.lastPositions, "int64", [rows, 1]);
      const hidden = buildDecoder(b, config, frozen, ids, { spec, values });
      const picked = gatherPositions(b, hidden, last); // [rows, 1, dim]
      return b.reshape(b.matMul(picked, b.transpose(head)), [rows]);
    }
    case "mean": {
      const weights = b.input(REWARD_INPUTS.responseWeights, dtype, [rows, seqLen]);
      const hidden = buildDecoder(b, config, frozen, ids, { spec, values });
      const perToken = b.reshape(b.matMul(hidden, b.transpose(head)), [rows, seqLen]);
      return b.reduceSum(b.mul(perToken, weights), [1], false);
    }
    default: {
      const unknown: never = pooling;
      throw new GraphShapeError(`unknown pooling ${String(unknown)}`);
    }
  }
}

function declareTrainables(b: GraphBuilder, config: LlamaConfig, spec: LoraSpec, dtype: FloatDType): Map<string, Value> {
  const values = declareAdapterTensors(b, config, spec, dtype, { as: "inputs" });
  values.set(SCORE_HEAD, b.input(SCORE_HEAD, dtype, [1, config.dim]));
  return values;
}

/** Builds the Bradley–Terry train-step graph for one (batchPairs, seqLen) bucket. */
export function buildRewardTrainGraph(config: LlamaConfig, weights: ModelWeights, spec: LoraSpec, options: RewardGraphOptions & { readonly batchPairs: number }): RewardTrainGraph {
  const { batchPairs, seqLen, dtype } = options;
  const pooling = options.pooling ?? "last";
  checkBucket(config, batchPairs, seqLen, pooling);
  const rows = 2 * batchPairs;
  const b = new GraphBuilder("reward-train");
  const values = declareTrainables(b, config, spec, dtype);
  const frozen = new FrozenWeights(b, config, weights, dtype, options.weightsAs);
  const sign = b.input(REWARD_INPUTS.pairSign, dtype, [batchPairs]);
  const weight = b.input(REWARD_INPUTS.pairWeight, dtype, [batchPairs]);
  const r = rewards(b, config, frozen, spec, rows, seqLen, dtype, pooling, values);
  b.output(r, REWARD_OUTPUTS.rewards);
  const [first, second] = b.split(r, 0, [batchPairs, batchPairs]);
  const margin = b.sub(first, second);
  b.output(margin, REWARD_OUTPUTS.margins);
  const perPair = b.stableSoftplus(b.neg(b.mul(sign, margin)));
  const loss = b.output(b.reduceSum(b.mul(perPair, weight), [0], false), REWARD_OUTPUTS.loss);
  const grads = appendGradients(b, loss, [...values.values()]);
  const gradientNames = new Map<string, string>();
  for (const [name, g] of grads) gradientNames.set(name, b.output(g, `grad.${name}`).name);
  return { ...finish(b, frozen, options.externalDataMinBytes), kind: "reward-train", spec, batchPairs, seqLen, dtype, pooling, gradientNames };
}

/** Builds the score graph for one (batch, seqLen) bucket: rewards [batch]. */
export function buildRewardScoreGraph(config: LlamaConfig, weights: ModelWeights, spec: LoraSpec, options: RewardGraphOptions & { readonly batch: number }): RewardScoreGraph {
  const { batch, seqLen, dtype } = options;
  const pooling = options.pooling ?? "last";
  checkBucket(config, batch, seqLen, pooling);
  const b = new GraphBuilder("reward-score");
  const values = declareTrainables(b, config, spec, dtype);
  const frozen = new FrozenWeights(b, config, weights, dtype, options.weightsAs);
  b.output(rewards(b, config, frozen, spec, batch, seqLen, dtype, pooling, values), REWARD_OUTPUTS.rewards);
  return { ...finish(b, frozen, options.externalDataMinBytes), kind: "reward-score", spec, batch, seqLen, dtype, pooling };
}

// ------------------------------------------------------------------------------------------------ feeds

function floatArray(dtype: FloatDType, values: ArrayLike<number>): Float32Array | Float64Array {
  return dtype === "float32" ? Float32Array.from(values) : Float64Array.from(values);
}

export interface RewardPacking {
  readonly pooling: RewardPooling;
  readonly dtype: FloatDType;
}

/** input_ids and last_positions (pooling "last") or response_weights (pooling "mean") for `rows` padded to
 *  `bucketRows`; a padding row is one pad token read at position 0. */
export function packRewardRows(rows: readonly RewardRow[], bucketRows: number, seqLen: number, padId: number, packing: RewardPacking = { pooling: "last", dtype: "float32" }): Record<string, HostTensor> {
  if (rows.length > bucketRows) throw new RewardBatchError("INVALID_BATCH", `${rows.length} rows do not fit a bucket of ${bucketRows}`);
  const ids = new BigInt64Array(bucketRows * seqLen).fill(BigInt(padId));
  rows.forEach((row, r) => {
    if (row.ids.length === 0) throw new RewardBatchError("INVALID_BATCH", `row ${r} is empty`);
    if (row.ids.length > seqLen) throw new RewardBatchError("INVALID_BATCH", `row ${r}: ${row.ids.length} tokens exceed seqLen ${seqLen}`);
    row.ids.forEach((id, t) => (ids[r * seqLen + t] = BigInt(id)));
  });
  const common = { [REWARD_INPUTS.inputIds]: { dtype: "int64" as const, shape: [bucketRows, seqLen], data: ids } };
  switch (packing.pooling) {
    case "last": {
      const last = new BigInt64Array(bucketRows);
      rows.forEach((row, r) => (last[r] = BigInt(row.ids.length - 1)));
      return { ...common, [REWARD_INPUTS.lastPositions]: { dtype: "int64", shape: [bucketRows, 1], data: last } };
    }
    case "mean": {
      const weights = packing.dtype === "float32" ? new Float32Array(bucketRows * seqLen) : new Float64Array(bucketRows * seqLen);
      for (let r = rows.length; r < bucketRows; r++) weights[r * seqLen] = 1;
      rows.forEach((row, r) => {
        const start = row.responseStart;
        if (start === undefined || !Number.isInteger(start) || start < 0 || start >= row.ids.length) {
          throw new RewardBatchError("INVALID_BATCH", `row ${r}: pooling "mean" needs responseStart in [0, ${row.ids.length}), got ${String(start)}`);
        }
        const share = 1 / (row.ids.length - start);
        for (let t = start; t < row.ids.length; t++) weights[r * seqLen + t] = share;
      });
      return { ...common, [REWARD_INPUTS.responseWeights]: { dtype: packing.dtype, shape: [bucketRows, seqLen], data: weights } };
    }
    default: {
      const unknown: never = packing.pooling;
      throw new RewardBatchError("INVALID_BATCH", `unknown pooling ${String(unknown)}`);
    }
  }
}

/** Every feed of a train graph except trainable tensors and frozen weights. */
export function rewardTrainBatchFeeds(graph: RewardTrainGraph, pairs: readonly RewardPair[], padId: number): Record<string, HostTensor> {
  const { batchPairs, seqLen, dtype } = graph;
  const n = pairs.length;
  if (n === 0 || n > batchPairs) throw new RewardBatchError("INVALID_BATCH", `${n} pairs for a bucket of ${batchPairs}`);
  const rows: RewardRow[] = new Array(2 * batchPairs).fill({ ids: [padId], responseStart: 0 });
  const sign = new Array<number>(batchPairs).fill(0);
  const weight = new Array<number>(batchPairs).fill(0);
  pairs.forEach((p, i) => {
    if (p.sign !== 1 && p.sign !== -1) throw new RewardBatchError("INVALID_BATCH", `pair ${i}: sign must be +1 or −1, got ${String(p.sign)}`);
    rows[i] = p.first;
    rows[batchPairs + i] = p.second;
    sign[i] = p.sign;
    weight[i] = 1 / n;
  });
  return {
    ...packRewardRows(rows, 2 * batchPairs, seqLen, padId, graph),
    [REWARD_INPUTS.pairSign]: { dtype, shape: [batchPairs], data: floatArray(dtype, sign) },
    [REWARD_INPUTS.pairWeight]: { dtype, shape: [batchPairs], data: floatArray(dtype, weight) },
  };
}

/** Trainable tensors as feeds in `dtype`; throws INVALID_TENSORS naming a missing or mis-sized tensor. */
export function rewardTensorFeeds(config: LlamaConfig, spec: LoraSpec, tensors: ReadonlyMap<string, Float32Array>, dtype: FloatDType): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  for (const [name, shape] of rewardTensorShapes(config, spec)) {
    const data = tensors.get(name);
    if (!data || data.length !== shape[0] * shape[1]) throw new RewardBatchError("INVALID_TENSORS", `reward tensor "${name}" is missing or not [${shape.join(",")}]`);
    feeds[name] = { dtype, shape, data: dtype === "float32" ? data : Float64Array.from(data) };
  }
  return feeds;
}
