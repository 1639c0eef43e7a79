/**
 * @module engine/evaluate/train-evaluator
 * Trains a scalar reward model for one preference dimension (reward-graph.ts): LoRA on the backbone plus a score
 * head, Bradley–Terry loss on that dimension's preference pairs. It shares the ARM trainer's data path and
 * optimizer (train/trainer-data.ts tokenization, length buckets and epoch plan; AdamW with decoupled weight decay,
 * cosine schedule with warmup, gradient accumulation, global-norm clipping), so the same seed gives the same run.
 * The pairs must come from a split disjoint from the ARM's training pairs (the caller's contract: an evaluator
 * that saw the ARM's pairs would reward memorisation).
 *
 * Init: LoRA A Kaiming-uniform, B zeros (PEFT), score head U(−s, s) with s = headInitScale/√dim (default 0.1/√dim),
 * so the initial rewards are small and the head learns first.
 */
import type { WeightsPlacement } from "../model/llama-graph.ts";
import { initAdapterTensors, validateAdapterSpec, type AdapterTarget, type LoraSpec } from "../model/pblora.ts";
import { createEngineSession, type EngineSession, type ExecutionProviderChoice } from "../session/index.ts";
import { AdamW, clipGradNorm } from "../train/adamw.ts";
import type { PreferencePair } from "../train/pairs.ts";
import { Rng } from "../train/rng.ts";
import { cosineWithWarmup, GradientAccumulator } from "../train/schedule.ts";
import { defaultLengthBuckets, epochPlan, mixSeed, preparePairs, TrainerError, type PreparedPair } from "../train/trainer-data.ts";
import type { OptimizationOptions, TrainableModel } from "../train/trainer.ts";
import {
  buildRewardTrainGraph,
  REWARD_OUTPUTS,
  REWARD_POOLINGS,
  rewardTensorFeeds,
  rewardTrainBatchFeeds,
  SCORE_HEAD,
  type RewardPair,
  type RewardPooling,
  type RewardRow,
  type RewardTrainGraph,
} from "./reward-graph.ts";
import { EVALUATOR_TRUNCATION, RewardScorer, type RewardModel } from "./reward-model.ts";

export interface TrainEvaluatorOptions extends OptimizationOptions {
  readonly model: TrainableModel;
  /** The dimension this evaluator scores. */
  readonly dimension: string;
  /** Pairs with exactly one label (`preferred: [0 | 1]`). */
  readonly pairs: readonly PreferencePair[];
  readonly validationPairs?: readonly PreferencePair[];
  /** LoRA rank (default 8), scale numerator (default 16), targets (default q, k, v). */
  readonly rank?: number;
  readonly loraAlpha?: number;
  readonly targets?: readonly AdapterTarget[];
  readonly seed?: number;
  readonly maxLength?: number;
  readonly maxPromptLength?: number;
  readonly lengthBuckets?: readonly number[];
  readonly headInitScale?: number;
  /** Where the score head reads (reward-graph.ts): "last" (default) or "mean" over the response tokens. */
  readonly pooling?: RewardPooling;
  readonly threads?: number;
  readonly executionProvider?: ExecutionProviderChoice;
  readonly weightsAs?: WeightsPlacement;
  readonly onProgress?: (progress: EvaluatorTrainProgress) => void;
  /** Checked before every micro-batch and between the scoring batches of the held-out and training accuracy:
   *  an aborted signal ends the run with CANCELLED (sessions released). */
  readonly signal?: AbortSignal;
}

export interface EvaluatorTrainProgress {
  readonly step: number;
  readonly totalSteps: number;
  readonly loss: number;
  readonly learningRate: number;
  readonly epoch: number;
}

export interface HeldOutAccuracy {
  readonly pairs: number;
  /** Share of pairs whose preferred response gets the higher reward (ties ½). */
  readonly accuracy: number;
  /** Mean −log σ(r_w − r_l). */
  readonly loss: number;
}

export interface TrainEvaluatorResult {
  readonly model: RewardModel;
  readonly history: readonly { readonly step: number; readonly loss: number; readonly learningRate: number; readonly gradNorm: number }[];
  readonly metrics: {
    readonly steps: number;
    readonly seconds: number;
    readonly trainPairs: number;
    readonly validationPairs: number;
    /** Accuracy on (at most) the first 256 training pairs: how well the model fits what it saw. */
    readonly trainAccuracy?: HeldOutAccuracy;
    readonly heldOutBefore?: HeldOutAccuracy;
    readonly heldOutAfter?: HeldOutAccuracy;
  };
}

function fail(message: string): never {
  throw new TrainerError("INVALID_OPTIONS", message);
}

function int(v: number, min: number, what: string): number {
  return Number.isInteger(v) && v >= min ? v : fail(`${what} must be an integer ≥ ${min}, got ${v}`);
}

/** A tokenized sequence as a reward row; its response starts at the first labelled position. */
function toRewardRow(row: { readonly ids: readonly number[]; readonly labels: readonly number[] }): RewardRow {
  const start = row.labels.findIndex((label) => label !== -100);
  return { ids: row.ids, responseStart: start < 0 ? row.ids.length - 1 : start };
}

function toRewardPair(p: PreparedPair): RewardPair {
  return { first: toRewardRow(p.arm.first), second: toRewardRow(p.arm.second), sign: p.arm.sign[0] === 1 ? 1 : -1 };
}

/** Accuracy and BT loss of `tensors` on prepared single-objective pairs (an aborted `signal` stops the scoring
 *  between batches with CancelledError). */
export async function rewardPairAccuracy(scorer: RewardScorer, tensors: ReadonlyMap<string, Float32Array>, pairs: readonly PreparedPair[], signal?: AbortSignal): Promise<HeldOutAccuracy> {
  if (pairs.length === 0) return { pairs: 0, accuracy: NaN, loss: NaN };
  const rows = pairs.flatMap((p) => [toRewardRow(p.arm.first), toRewardRow(p.arm.second)]);
  const r = await scorer.score(rows, tensors, signal);
  let correct = 0;
  let loss = 0;
  pairs.forEach((p, i) => {
    const signed = p.arm.sign[0] * (r[2 * i] - r[2 * i + 1]);
    correct += signed > 0 ? 1 : signed === 0 ? 0.5 : 0;
    loss += Math.max(-signed, 0) + Math.log1p(Math.exp(-Math.abs(signed)));
  });
  return { pairs: pairs.length, accuracy: correct / pairs.length, loss: loss / pairs.length };
}

/** Trains one evaluator; see the module comment. */
export async function trainEvaluator(options: TrainEvaluatorOptions): Promise<TrainEvaluatorResult> {
  const { config, weights, tokenizer } = options.model;
  if (typeof options.dimension !== "string" || options.dimension.trim() === "") fail("dimension must be a non-empty name");
  const maxLength = int(options.maxLength ?? 256, 2, "maxLength");
  const maxPromptLength = int(options.maxPromptLength ?? Math.floor(maxLength / 2), 1, "maxPromptLength");
  if (maxPromptLength >= maxLength) fail(`maxPromptLength (${maxPromptLength}) must be below maxLength (${maxLength})`);
  if (maxLength > config.maxSeqLen) fail(`maxLength ${maxLength} exceeds the model's context ${config.maxSeqLen}`);
  const buckets = options.lengthBuckets ? [...options.lengthBuckets] : defaultLengthBuckets(maxLength);
  if (Math.max(...buckets) < maxLength) fail(`the largest length bucket (${Math.max(...buckets)}) is below maxLength (${maxLength})`);
  const spec: LoraSpec = { mode: "lora", rank: options.rank ?? 8, loraAlpha: options.loraAlpha ?? 16, targets: options.targets ?? ["q", "k", "v"] };
  try {
    validateAdapterSpec(spec);
  } catch (cause) {
    fail(`LoRA spec: ${(cause as Error).message}`);
  }
  const lr = options.lr ?? 1e-3;
  if (!(lr > 0)) fail(`lr must be positive, got ${lr}`);
  const weightDecay = options.weightDecay ?? 0;
  if (!(weightDecay >= 0)) fail(`weightDecay must be ≥ 0, got ${weightDecay}`);
  const epochs = int(options.epochs ?? 1, 1, "epochs");
  const batchPairs = int(options.batchPairs ?? 8, 1, "batchPairs");
  const gradAccum = int(options.gradAccum ?? 1, 1, "gradAccum");
  const warmupSteps = int(options.warmupSteps ?? 0, 0, "warmupSteps");
  const maxGradNorm = options.maxGradNorm === undefined ? 1 : options.maxGradNorm;
  if (maxGradNorm !== null && !(maxGradNorm > 0)) fail(`maxGradNorm must be positive or null, got ${maxGradNorm}`);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) fail(`seed must be an integer in [0, 2^32), got ${seed}`);
  const pooling = options.pooling ?? "last";
  if (!REWARD_POOLINGS.includes(pooling)) fail(`pooling must be one of ${REWARD_POOLINGS.join(", ")}, got ${JSON.stringify(pooling)}`);
  const headInitScale = options.headInitScale ?? 0.1;
  if (!(headInitScale >= 0)) fail(`headInitScale must be ≥ 0, got ${headInitScale}`);
  const single = (list: readonly PreferencePair[], what: string) =>
    list.forEach((p, i) => {
      if (!Array.isArray(p?.preferred) || p.preferred.length !== 1 || (p.preferred[0] !== 0 && p.preferred[0] !== 1)) {
        fail(`${what} ${i}: an evaluator pair needs exactly one label (preferred: [0] or [1]), got ${JSON.stringify(p?.preferred)}`);
      }
    });
  single(options.pairs, "training pair");
  single(options.validationPairs ?? [], "validation pair");
  const prep = { maxLength, maxPromptLength, truncation: EVALUATOR_TRUNCATION, buckets };
  const train = preparePairs(tokenizer, options.pairs, 1, prep, "training pair");
  if (train.length === 0) throw new TrainerError("NO_TRAINING_PAIRS", `no training pairs for evaluator "${options.dimension}"`);
  const validation = preparePairs(tokenizer, options.validationPairs ?? [], 1, prep, "validation pair");

  const initRng = new Rng(mixSeed(seed, 0xe7a1));
  const tensors = initAdapterTensors(config, spec, () => initRng.uniform());
  const bound = headInitScale / Math.sqrt(config.dim);
  tensors.set(SCORE_HEAD, Float32Array.from({ length: config.dim }, () => (2 * initRng.uniform() - 1) * bound));
  const optimizer = new AdamW(tensors, { lr, weightDecay });
  const scorer = new RewardScorer({ config, weights, spec, maxLength, buckets, batch: 2 * batchPairs, padId: tokenizer.eosId, pooling, threads: options.threads, weightsAs: options.weightsAs, executionProvider: options.executionProvider });
  const sessions = new Map<number, Promise<{ graph: RewardTrainGraph; session: EngineSession }>>();
  const sessionFor = (bucket: number) => {
    let hit = sessions.get(bucket);
    if (!hit) {
      hit = (async () => {
        const graph = buildRewardTrainGraph(config, weights, spec, { batchPairs, seqLen: bucket, dtype: "float32", weightsAs: options.weightsAs ?? "initializers", pooling });
        // One session runs back to back here, so its thread pool may spin-wait (as in train/trainer.ts).
        const session = await createEngineSession(graph, { executionProvider: options.executionProvider ?? "cpu", allowSpinning: true, ...(options.threads ? { intraOpNumThreads: options.threads } : {}) });
        return { graph, session };
      })();
      sessions.set(bucket, hit);
    }
    return hit;
  };

  const started = performance.now();
  const history: { step: number; loss: number; learningRate: number; gradNorm: number }[] = [];
  try {
    const heldOutBefore = validation.length > 0 ? await rewardPairAccuracy(scorer, tensors, validation, options.signal) : undefined;
    const perEpoch = epochPlan(train, batchPairs, seed, 0, 0).length;
    const updatesPerEpoch = Math.ceil(perEpoch / gradAccum);
    const totalSteps = updatesPerEpoch * epochs;
    let step = 0;
    for (let epoch = 0; epoch < epochs; epoch++) {
      const plan = epochPlan(train, batchPairs, seed, 0, epoch);
      const accumulator = new GradientAccumulator(gradAccum);
      let windowLoss = 0;
      for (let b = 0; b < plan.length; b++) {
        if (options.signal?.aborted) throw new TrainerError("CANCELLED", `evaluator training cancelled after ${step} of ${totalSteps} updates`);
        const members = plan[b].map((i) => train[i]);
        const { graph, session } = await sessionFor(members[0].bucket);
        const feeds = { ...graph.frozenFeeds, ...rewardTensorFeeds(config, spec, tensors, "float32"), ...rewardTrainBatchFeeds(graph, members.map(toRewardPair), tokenizer.eosId) };
        const out = await session.run(feeds);
        const loss = (out[REWARD_OUTPUTS.loss].data as Float32Array)[0];
        if (!Number.isFinite(loss)) throw new TrainerError("NON_FINITE_LOSS", `evaluator loss is ${loss} at update ${step + 1} (epoch ${epoch}, micro-batch ${b})`);
        const grads = new Map<string, Float32Array>();
        for (const [name, output] of graph.gradientNames) grads.set(name, out[output].data as Float32Array);
        accumulator.add(grads);
        windowLoss += loss;
        if (!accumulator.ready && b < plan.length - 1) continue;
        const windowSize = accumulator.pending;
        const mean = accumulator.take();
        const gradNorm = maxGradNorm === null ? norm(mean) : clipGradNorm(mean, maxGradNorm);
        const learningRate = lr * cosineWithWarmup(step, { warmupSteps, totalSteps });
        optimizer.step(mean, learningRate);
        step++;
        history.push({ step, loss: windowLoss / windowSize, learningRate, gradNorm });
        options.onProgress?.({ step, totalSteps, loss: windowLoss / windowSize, learningRate, epoch });
        windowLoss = 0;
      }
    }
    const heldOutAfter = validation.length > 0 ? await rewardPairAccuracy(scorer, tensors, validation, options.signal) : undefined;
    const trainAccuracy = await rewardPairAccuracy(scorer, tensors, train.slice(0, 256), options.signal);
    const model: RewardModel = {
      metadata: {
        kind: "evaluator",
        dimension: options.dimension,
        baseModelDigest: options.model.source.sha256,
        spec,
        maxLength,
        maxPromptLength,
        pooling,
        ...(heldOutAfter ? { heldOutAccuracy: heldOutAfter.accuracy, heldOutPairs: heldOutAfter.pairs } : {}),
      },
      tensors,
    };
    return {
      model,
      history,
      metrics: {
        steps: step,
        seconds: (performance.now() - started) / 1000,
        trainPairs: train.length,
        validationPairs: validation.length,
        trainAccuracy,
        ...(heldOutBefore ? { heldOutBefore } : {}),
        ...(heldOutAfter ? { heldOutAfter } : {}),
      },
    };
  } finally {
    for (const pending of sessions.values()) await pending.then((s) => s.session.release()).catch(() => undefined);
    await scorer.release();
  }
}

function norm(grads: ReadonlyMap<string, Float32Array>): number {
  let s = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return Math.sqrt(s);
}
