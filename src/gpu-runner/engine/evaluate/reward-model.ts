/**
 * @module engine/evaluate/reward-model
 * A trained scalar reward model (backbone + LoRA + score head, reward-graph.ts) as data, its safetensors file,
 * the tokenization rule shared by training and scoring, and a batched scorer.
 *
 * File: float32 tensors `layers.{i}.{target}.lora_{A,B}` and `score.weight` [1, dim], string metadata
 *   parm.format = "parm-evaluator", parm.version = "1", kind = "evaluator", dimension = the objective it scores,
 *   baseModelDigest = sha256 of the backbone, rank, loraAlpha, targets (JSON array), maxLength, maxPromptLength,
 *   pooling ("last" or "mean", reward-graph.ts; a file without it is "last"), and optionally heldOutAccuracy /
 *   heldOutPairs (how it ranked held-out pairs when trained).
 * Tokenization (train/pairs.ts, rule PREFIX_SHARED in training and scoring alike): BOS + prompt, then the tokens
 * `prompt + response` adds, then EOS; the prompt is cut from the left (keeping BOS) and then the response from the
 * right to fit maxLength.
 * The reward is read at the last token (pooling "last") or averaged over the response tokens (pooling "mean").
 */
import type { LlamaConfig, ModelWeights, WeightTensor } from "../model/config.ts";
import type { WeightsPlacement } from "../model/llama-graph.ts";
import { ADAPTER_TARGETS, validateAdapterSpec, type AdapterTarget, type LoraSpec } from "../model/pblora.ts";
import { parseSafetensors, SafetensorsError, writeSafetensors } from "../model/safetensors.ts";
import { createEngineSession, type EngineSession, type ExecutionProviderChoice } from "../session/index.ts";
import { bucketFor, tokenizePair, type PairTokenizationOptions, type PairTokenizer } from "../train/pairs.ts";
import { defaultLengthBuckets } from "../train/trainer-data.ts";
import { throwIfCancelled } from "../util/abort.ts";
import { EngineError } from "../util/errors.ts";
import {
  buildRewardScoreGraph,
  packRewardRows,
  REWARD_OUTPUTS,
  REWARD_POOLINGS,
  RewardBatchError,
  rewardTensorFeeds,
  rewardTensorShapes,
  type RewardPooling,
  type RewardRow,
  type RewardScoreGraph,
} from "./reward-graph.ts";

export type EvaluatorFileErrorCode = "NOT_AN_EVALUATOR" | "UNSUPPORTED_VERSION" | "INVALID_METADATA" | "INVALID_TENSORS" | "BASE_MODEL_MISMATCH";

export class EvaluatorFileError extends EngineError<EvaluatorFileErrorCode> {
  static override readonly category = "evaluator-unavailable";
}

export interface RewardModelMetadata {
  readonly kind: "evaluator";
  readonly dimension: string;
  readonly baseModelDigest: string;
  readonly spec: LoraSpec;
  readonly maxLength: number;
  readonly maxPromptLength: number;
  readonly pooling: RewardPooling;
  readonly heldOutAccuracy?: number;
  readonly heldOutPairs?: number;
}

/** A reward model's trainable tensors (LoRA + score head) and what it scores. */
export interface RewardModel {
  readonly metadata: RewardModelMetadata;
  readonly tensors: ReadonlyMap<string, Float32Array>;
}

const FORMAT = "parm-evaluator";
const VERSION = "1";

function validateMetadata(m: RewardModelMetadata): void {
  const fail = (message: string): never => {
    throw new EvaluatorFileError("INVALID_METADATA", message);
  };
  if (m.kind !== "evaluator") fail(`kind must be "evaluator", got ${JSON.stringify(m.kind)}`);
  if (typeof m.dimension !== "string" || m.dimension.trim() === "") fail("dimension must be a non-empty name");
  if (typeof m.baseModelDigest !== "string" || !/^[0-9a-f]{64}$/.test(m.baseModelDigest)) fail("baseModelDigest must be a lower-case sha256 hex digest");
  try {
    validateAdapterSpec(m.spec);
  } catch (cause) {
    fail(`LoRA spec: ${(cause as Error).message}`);
  }
  if (m.spec.mode !== "lora") fail(`an evaluator uses a plain LoRA adapter, got ${String(m.spec.mode)}`);
  if (!Number.isInteger(m.maxLength) || m.maxLength < 2) fail(`maxLength must be an integer ≥ 2, got ${m.maxLength}`);
  if (!Number.isInteger(m.maxPromptLength) || m.maxPromptLength < 1 || m.maxPromptLength >= m.maxLength) {
    fail(`maxPromptLength must be an integer in [1, maxLength), got ${m.maxPromptLength}`);
  }
  if (!REWARD_POOLINGS.includes(m.pooling)) fail(`pooling must be one of ${REWARD_POOLINGS.join(", ")}, got ${JSON.stringify(m.pooling)}`);
}

function validateTensors(config: LlamaConfig | undefined, m: RewardModelMetadata, tensors: ReadonlyMap<string, { readonly length: number }>): void {
  if (!config) {
    if (!tensors.has("score.weight")) throw new EvaluatorFileError("INVALID_TENSORS", "tensor score.weight is missing");
    return;
  }
  const shapes = rewardTensorShapes(config, m.spec);
  for (const [name, shape] of shapes) {
    const t = tensors.get(name);
    if (!t) throw new EvaluatorFileError("INVALID_TENSORS", `tensor ${name} (shape [${shape.join(",")}]) is missing`);
    if (t.length !== shape[0] * shape[1]) throw new EvaluatorFileError("INVALID_TENSORS", `tensor ${name} has ${t.length} values, expected [${shape.join(",")}]`);
  }
  for (const name of tensors.keys()) if (!shapes.has(name)) throw new EvaluatorFileError("INVALID_TENSORS", `tensor ${name} does not belong to this evaluator`);
}

/** The safetensors bytes of a reward model (validated against `config` when given). */
export function exportRewardModel(model: RewardModel, config?: LlamaConfig): Uint8Array {
  validateMetadata(model.metadata);
  validateTensors(config, model.metadata, model.tensors);
  const m = model.metadata;
  const tensors = new Map<string, WeightTensor>();
  for (const [name, data] of model.tensors) {
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) throw new EvaluatorFileError("INVALID_TENSORS", `tensor ${name}[${i}] is ${data[i]}`);
    const shape = name === "score.weight" ? [1, data.length] : inferShape(name, data.length, m.spec.rank);
    tensors.set(name, { shape, data });
  }
  return writeSafetensors(tensors, {
    metadata: {
      "parm.format": FORMAT,
      "parm.version": VERSION,
      kind: "evaluator",
      dimension: m.dimension,
      baseModelDigest: m.baseModelDigest,
      rank: String(m.spec.rank),
      loraAlpha: String(m.spec.loraAlpha),
      targets: JSON.stringify(m.spec.targets),
      maxLength: String(m.maxLength),
      maxPromptLength: String(m.maxPromptLength),
      pooling: m.pooling,
      ...(m.heldOutAccuracy !== undefined ? { heldOutAccuracy: String(m.heldOutAccuracy) } : {}),
      ...(m.heldOutPairs !== undefined ? { heldOutPairs: String(m.heldOutPairs) } : {}),
    },
  });
}

function inferShape(name: string, length: number, rank: number): number[] {
  return name.endsWith("lora_A") ? [rank, length / rank] : [length / rank, rank];
}

export interface RewardModelExpectations {
  readonly baseModelDigest?: string;
  readonly config?: LlamaConfig;
  readonly dimension?: string;
}

/** Parses and validates an evaluator file. */
export function importRewardModel(bytes: Uint8Array, expect: RewardModelExpectations = {}): RewardModel {
  let contents;
  try {
    contents = parseSafetensors(bytes);
  } catch (error) {
    if (error instanceof SafetensorsError) throw new EvaluatorFileError("NOT_AN_EVALUATOR", `not a safetensors evaluator: ${error.message}`, { cause: error });
    throw error;
  }
  const raw = contents.metadata;
  if (raw["parm.format"] !== FORMAT) throw new EvaluatorFileError("NOT_AN_EVALUATOR", `metadata parm.format is ${JSON.stringify(raw["parm.format"])}, expected "${FORMAT}"`);
  if (raw["parm.version"] !== VERSION) throw new EvaluatorFileError("UNSUPPORTED_VERSION", `evaluator version ${JSON.stringify(raw["parm.version"])} is not supported (expected ${VERSION})`);
  const number = (key: string, optional = false): number | undefined => {
    if (raw[key] === undefined && optional) return undefined;
    const v = Number(raw[key]);
    if (raw[key] === undefined || raw[key] === "" || !Number.isFinite(v)) throw new EvaluatorFileError("INVALID_METADATA", `metadata ${key} must be a number, got ${JSON.stringify(raw[key])}`);
    return v;
  };
  let targets: unknown;
  try {
    targets = JSON.parse(raw.targets ?? "");
  } catch {
    throw new EvaluatorFileError("INVALID_METADATA", `metadata targets must be a JSON array, got ${JSON.stringify(raw.targets)}`);
  }
  if (!Array.isArray(targets) || !targets.every((t) => (ADAPTER_TARGETS as readonly string[]).includes(t))) {
    throw new EvaluatorFileError("INVALID_METADATA", `metadata targets must list adapter targets (${ADAPTER_TARGETS.join(", ")}), got ${raw.targets}`);
  }
  const heldOutAccuracy = number("heldOutAccuracy", true);
  const heldOutPairs = number("heldOutPairs", true);
  const metadata: RewardModelMetadata = {
    kind: raw.kind as "evaluator",
    dimension: raw.dimension,
    baseModelDigest: raw.baseModelDigest,
    spec: { mode: "lora", rank: number("rank")!, loraAlpha: number("loraAlpha")!, targets: targets as AdapterTarget[] },
    maxLength: number("maxLength")!,
    maxPromptLength: number("maxPromptLength")!,
    pooling: (raw.pooling ?? "last") as RewardPooling,
    ...(heldOutAccuracy !== undefined ? { heldOutAccuracy } : {}),
    ...(heldOutPairs !== undefined ? { heldOutPairs } : {}),
  };
  validateMetadata(metadata);
  if (expect.baseModelDigest !== undefined && expect.baseModelDigest !== metadata.baseModelDigest) {
    throw new EvaluatorFileError("BASE_MODEL_MISMATCH", `evaluator was trained on backbone ${metadata.baseModelDigest}, not ${expect.baseModelDigest}`);
  }
  if (expect.dimension !== undefined && expect.dimension !== metadata.dimension) {
    throw new EvaluatorFileError("INVALID_METADATA", `evaluator scores "${metadata.dimension}", expected "${expect.dimension}"`);
  }
  const tensors = new Map<string, Float32Array>();
  for (const [name, t] of contents.tensors) tensors.set(name, t.data);
  validateTensors(expect.config, metadata, tensors);
  return { metadata, tensors };
}

/** The pair rule evaluators train and score with (train/pairs.ts). */
export const EVALUATOR_TRUNCATION: PairTokenizationOptions["truncation"] = "PREFIX_SHARED";

/** Tokenizes one (prompt, response) for a reward model (the module comment's rule). */
export function tokenizeForReward(tokenizer: PairTokenizer, prompt: string, response: string, limits: { readonly maxLength: number; readonly maxPromptLength: number }): RewardRow {
  const pair = tokenizePair(tokenizer, { prompt, responses: [response, response], preferred: [0] }, { ...limits, truncation: EVALUATOR_TRUNCATION }, "scored response");
  return { ids: pair.sequences[0].ids, responseStart: pair.promptLengths[0] };
}

export interface RewardScorerOptions {
  readonly config: LlamaConfig;
  readonly weights: ModelWeights;
  readonly spec: LoraSpec;
  /** Default "last". */
  readonly pooling?: RewardPooling;
  /** Rows per score-graph run (default 8). */
  readonly batch?: number;
  /** Padded lengths (default `defaultLengthBuckets(maxLength)`). */
  readonly buckets?: readonly number[];
  readonly maxLength: number;
  readonly padId: number;
  readonly threads?: number;
  readonly weightsAs?: WeightsPlacement;
  readonly executionProvider?: ExecutionProviderChoice;
}

/** Scores token rows with a reward model; keeps one score graph and session per length bucket until `release`. */
export class RewardScorer {
  private readonly sessions = new Map<number, Promise<{ graph: RewardScoreGraph; session: EngineSession }>>();
  private readonly buckets: readonly number[];
  private readonly batch: number;

  constructor(private readonly options: RewardScorerOptions) {
    this.batch = options.batch ?? 8;
    if (!Number.isInteger(this.batch) || this.batch < 1) throw new RewardBatchError("INVALID_BATCH", `batch must be an integer ≥ 1, got ${this.batch}`);
    this.buckets = options.buckets ?? defaultLengthBuckets(options.maxLength);
  }

  private session(seqLen: number) {
    let hit = this.sessions.get(seqLen);
    if (!hit) {
      const { config, weights, spec } = this.options;
      hit = (async () => {
        const graph = buildRewardScoreGraph(config, weights, spec, { batch: this.batch, seqLen, dtype: "float32", weightsAs: this.options.weightsAs ?? "initializers", pooling: this.options.pooling ?? "last" });
        const session = await createEngineSession(graph, {
          executionProvider: this.options.executionProvider ?? "cpu",
          ...(this.options.threads ? { intraOpNumThreads: this.options.threads } : {}),
        });
        return { graph, session };
      })();
      this.sessions.set(seqLen, hit);
    }
    return hit;
  }

  /** Reward per row under `tensors` (LoRA + score head). An aborted `signal` stops it before its next batch (and
   *  before creating another bucket's session) with CancelledError. */
  async score(rows: readonly RewardRow[], tensors: ReadonlyMap<string, Float32Array>, signal?: AbortSignal): Promise<Float64Array> {
    const { config, spec, padId } = this.options;
    const out = new Float64Array(rows.length);
    const byBucket = new Map<number, number[]>();
    rows.forEach((row, i) => {
      const bucket = bucketFor(row.ids.length, this.buckets);
      if (!byBucket.has(bucket)) byBucket.set(bucket, []);
      byBucket.get(bucket)!.push(i);
    });
    const feedsOfTensors = rewardTensorFeeds(config, spec, tensors, "float32");
    let done = 0;
    const cancelled = () => `reward scoring cancelled after ${done} of ${rows.length} rows`;
    for (const [bucket, members] of [...byBucket].sort(([a], [b]) => a - b)) {
      throwIfCancelled(signal, cancelled);
      const { graph, session } = await this.session(bucket);
      for (let s = 0; s < members.length; s += this.batch) {
        throwIfCancelled(signal, cancelled);
        const chunk = members.slice(s, s + this.batch);
        const feeds = { ...graph.frozenFeeds, ...feedsOfTensors, ...packRewardRows(chunk.map((i) => rows[i]), this.batch, bucket, padId, graph) };
        const result = await session.run(feeds, [REWARD_OUTPUTS.rewards]);
        const r = result[REWARD_OUTPUTS.rewards].data as Float32Array;
        chunk.forEach((i, c) => (out[i] = r[c]));
        done += chunk.length;
      }
    }
    return out;
  }

  async release(): Promise<void> {
    for (const pending of this.sessions.values()) await (await pending).session.release();
    this.sessions.clear();
  }
}
