/** @module engine/train/trainer
 * The ARM training loop (parm-method.md §2, §7): pure compute, it reads nothing but the model it is given and
 * reports through callbacks.
 *
 * PARM: one PBLoRA ARM over k objectives. α ~ Dirichlet(p·1_k) is drawn from the run's Rng once per optimizer step
 * (`alphaPer` STEP, the reference: every micro-batch of an accumulation window shares it) or once per micro-batch
 * (MICRO_BATCH); a micro-batch's train graph returns loss = Σ_i α_i ℓ_i, ℓ_i = mean over the micro-batch's pairs labelled for objective i of
 * −log σ(β_i (Σ log π(y_w|x,α) − Σ log π(y_l|x,α))). A pair labelled for several objectives (PKU-SafeRLHF) enters
 * every ℓ_i it is labelled for; a pair labelled once (HH-RLHF) only its own, and micro-batches mix objectives
 * round-robin (trainer-data.ts). An objective absent from a micro-batch contributes 0 to that micro-batch.
 * GENARM: one plain-LoRA ARM per objective (rank `loraRank`, default r1), trained in turn ("phases") on that
 * objective's pairs only, with the same loop (no α).
 *
 * Optimization (HF Trainer semantics): gradients averaged over `gradAccum` micro-batches (the last window of an
 * epoch may be shorter), clipped to global norm `maxGradNorm` (default 1, null = off), AdamW with decoupled weight
 * decay, lr = lr₀ · cosineWithWarmup(update). `maxSteps` caps the updates of the whole run (shared between GenARM
 * phases in proportion, trainer-data.ts `phaseUpdateBudgets`); each phase's schedule and the progress totals span
 * the capped count, and a phase ends with the update that reaches its share. Everything random (adapter init, α,
 * data order, dropout masks) derives from `seed`; with the same onnxruntime thread count a run is bit-reproducible,
 * and resuming from a checkpoint taken after update n reproduces the uninterrupted run.
 *
 * Adapter dropout (`loraDropout`, PEFT's lora_dropout): while training, each adapted module's input is multiplied by
 * its own mask (0 with probability p, else 1/(1−p)); the masks of micro-batch b of epoch e in phase j are drawn from
 * Rng(mix(seed, j, e, b)), so a resumed run draws the same masks. Held-out evaluation and decoding use no dropout.
 *
 * Checkpoints (train/checkpoint.ts): adapter tensors and AdamW moments of every ARM as `arm{j}/<tensor>`, the
 * α-Rng state, and the data position {phase, epoch, batch, phaseSteps} as of an optimizer update boundary.
 */
import { adapterFeeds, ARM_OUTPUTS, armTrainBatchFeeds, buildArmTrainGraph, type ArmTrainGraph } from "../model/arm-graph.ts";
import type { LlamaConfig, ModelWeights, WeightTensor } from "../model/config.ts";
import type { WeightsPlacement } from "../model/llama-graph.ts";
import { adapterScale, adapterTensorShapes, initAdapterTensors, pbloraSpec, validateAdapterSpec, type AdapterSpec, type AdapterTarget } from "../model/pblora.ts";
import { createEngineSession, type EngineSession, type ExecutionProviderChoice } from "../session/index.ts";
import { ALPHA_CADENCES, defaultMaxLength, defaultMaxPromptLength, PAIR_TRUNCATIONS, TRAINING_RECIPES, type AlphaCadence, type PairTruncation } from "../../../contracts/training-recipe.ts";
import { abortsUnless } from "../util/abort.ts";
import { AdamW, clipGradNorm } from "./adamw.ts";
import { exportAdapter, type AdapterFileMetadata, type AdapterMethod } from "./adapter-file.ts";
import { deserializeCheckpoint, serializeCheckpoint, type JsonValue } from "./checkpoint.ts";
import { evaluateGenarmAdapters, evaluateParmAdapter, PairScorer, simplexVertices, type AlphaEvaluation } from "./evaluate-pairs.ts";
import type { PairTokenizer, PreferencePair } from "./pairs.ts";
import { Rng } from "./rng.ts";
import { cosineWithWarmup, GradientAccumulator } from "./schedule.ts";
import {
  defaultLengthBuckets,
  epochPlan,
  microBatchesPerEpoch,
  mixSeed,
  pairsFingerprint,
  phaseUpdateBudgets,
  preparePairs,
  singleObjectivePairs,
  TrainerError,
  type PreparedPair,
} from "./trainer-data.ts";

export { TrainerError } from "./trainer-data.ts";
export type { TrainerErrorCode } from "./trainer-data.ts";

/** What the trainer needs of a loaded model (`LoadedModel` fits). */
export interface TrainableModel {
  readonly config: LlamaConfig;
  readonly weights: ModelWeights;
  readonly tokenizer: PairTokenizer;
  readonly source: { readonly sha256: string };
}

export interface TrainObjective {
  /** Dimension name; α order is the order of `objectives`. */
  readonly name: string;
  /** β_i of the ARM loss (paper: 0.01). */
  readonly beta: number;
}

export interface TrainProgress {
  /** Optimizer updates done (over all phases). */
  readonly step: number;
  readonly totalSteps: number;
  readonly percent: number;
  readonly etaSeconds: number;
  /** Mean ℓ_i over the update's micro-batches that held objective i (NaN if none). GenARM: only the phase's objective is set. */
  readonly lossPerObjective: readonly number[];
  readonly loss: number;
  readonly tokensPerSecond: number;
  readonly learningRate: number;
  readonly epoch: number;
  /** GenARM: index of the objective whose ARM is training; PARM: 0. */
  readonly phase: number;
}

/** Optimizer and schedule options shared by the ARM trainer and the evaluator trainer (AdamW with decoupled
 *  weight decay, linear warmup then cosine decay, gradient accumulation, global-norm clipping). */
export interface OptimizationOptions {
  readonly lr?: number;
  readonly weightDecay?: number;
  readonly warmupSteps?: number;
  readonly epochs?: number;
  readonly batchPairs?: number;
  readonly gradAccum?: number;
  /** Gradient-norm clip; null disables. Default 1. */
  readonly maxGradNorm?: number | null;
  /** At most this many optimizer updates in all (the schedule spans them); null/undefined: the epochs decide. */
  readonly maxSteps?: number | null;
}

export interface TrainArmOptions extends OptimizationOptions {
  readonly model: TrainableModel;
  /** Default "PARM". */
  readonly method?: AdapterMethod;
  readonly objectives: readonly TrainObjective[];
  /** `preferred` has one entry per objective, in `objectives` order (null = unlabelled for that objective). */
  readonly pairs: readonly PreferencePair[];
  readonly validationPairs?: readonly PreferencePair[];
  /** PBLoRA ranks and scale; targets default q, k, v. GenARM: `loraAlpha` is its LoRA's. Defaults: the method's
   *  recipe (contracts/training-recipe.ts: PARM 4, 4, 8; GenARM alpha 16). */
  readonly r1?: number;
  readonly r2?: number;
  readonly loraAlpha?: number;
  /** GenARM LoRA rank (default: r1 when given, else the recipe's 8). */
  readonly loraRank?: number;
  readonly targets?: readonly AdapterTarget[];
  /** Adapter-input dropout p ∈ [0, 1) while training (default: the method's recipe, contracts/training-recipe.ts). */
  readonly loraDropout?: number;
  /** Dirichlet concentration p (default 0.5). */
  readonly dirichletP?: number;
  /** PARM: draw α once per optimizer step (every micro-batch of the accumulation window shares it) or once per
   *  micro-batch. Default: the recipe's (STEP). */
  readonly alphaPer?: AlphaCadence;
  /** Pair tokenization and truncation rule (train/pairs.ts). Default: the recipe's (TRL). */
  readonly truncation?: PairTruncation;
  readonly seed?: number;
  readonly maxPromptLength?: number;
  readonly maxLength?: number;
  /** Padded sequence lengths; default `defaultLengthBuckets(maxLength)`. Must include one ≥ maxLength. */
  readonly lengthBuckets?: readonly number[];
  /** onnxruntime intra-op threads (default: all cores). */
  readonly threads?: number;
  readonly executionProvider?: ExecutionProviderChoice;
  /** Frozen weights as initializers (default) or inputs. */
  readonly weightsAs?: WeightsPlacement;
  /** Default true; false uses the generic LogSoftmax+GatherElements gradient rules. */
  readonly fuseLogSoftmaxGather?: boolean;
  /** Checkpoint every n optimizer updates (0/undefined: never). */
  readonly checkpointEvery?: number;
  readonly onCheckpoint?: (bytes: Uint8Array, step: number) => void | Promise<void>;
  readonly resumeFrom?: Uint8Array;
  readonly onProgress?: (progress: TrainProgress) => void;
  /** Checked before every micro-batch and between the scoring batches of the held-out evaluations; an aborted
   *  signal ends the run with TrainerError CANCELLED (sessions released). The held-out evaluation after the last
   *  update ignores an abort for which `checkpointOnAbort` says true (a shutdown): the finished run returns. */
  readonly signal?: AbortSignal;
  /** Called with the abort reason when the signal aborts: `true` first writes a final checkpoint through
   *  `onCheckpoint` (when the run stands between updates and has progressed since its last checkpoint), so a job
   *  handed back on shutdown resumes exactly where it stopped. */
  readonly checkpointOnAbort?: (reason: unknown) => boolean;
  /** Held-out evaluation of the initial adapter too (default true when validation pairs are given). */
  readonly evaluateBefore?: boolean;
  /** Extra α at which to evaluate held-out pairs (the pairwise-accuracy front); vertices are always evaluated. */
  readonly evaluationAlphas?: readonly (readonly number[])[];
  /** Pairs per evaluation run (default 2·batchPairs). */
  readonly evaluationBatchPairs?: number;
}

/** One trained ARM: a PARM adapter over every objective or one GenARM adapter per objective. */
export interface TrainedArm {
  readonly method: AdapterMethod;
  /** α order (GenARM: its single objective). */
  readonly dimensions: readonly string[];
  readonly spec: AdapterSpec;
  readonly tensors: ReadonlyMap<string, Float32Array>;
  /** Shape of every tensor (model/pblora.ts `adapterTensorShapes`). */
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  readonly metadata: AdapterFileMetadata;
}

export interface TrainStepRecord {
  readonly step: number;
  readonly phase: number;
  readonly epoch: number;
  readonly learningRate: number;
  readonly loss: number;
  readonly lossPerObjective: readonly number[];
  readonly gradNorm: number;
  readonly microBatches: number;
  readonly tokens: number;
  /** α of each micro-batch of the update (PARM). */
  readonly alphas: readonly (readonly number[])[];
}

export interface HeldOutReport {
  /** Per objective i: loss and accuracy at α = e_i. */
  readonly objectives: readonly { readonly name: string; readonly pairs: number; readonly loss: number; readonly accuracy: number }[];
  /** Mean of the objectives' losses at their vertices. */
  readonly meanLoss: number;
  /** Every evaluated α (vertices first, then `evaluationAlphas`) with all objectives' loss and accuracy. */
  readonly front: readonly AlphaEvaluation[];
}

export interface TrainMetrics {
  readonly steps: number;
  readonly microBatches: number;
  readonly tokens: number;
  readonly seconds: number;
  readonly tokensPerSecond: number;
  readonly trainPairs: number;
  readonly truncatedPairs: number;
  readonly validationPairs: number;
  readonly buckets: readonly number[];
  readonly heldOutBefore?: HeldOutReport;
  readonly heldOutAfter?: HeldOutReport;
}

export interface TrainArmResult {
  readonly adapters: readonly TrainedArm[];
  readonly metrics: TrainMetrics;
  readonly history: readonly TrainStepRecord[];
}

interface ResolvedOptions {
  readonly method: AdapterMethod;
  readonly r1: number;
  readonly r2: number;
  readonly loraAlpha: number;
  readonly loraRank: number;
  readonly targets: readonly AdapterTarget[];
  readonly loraDropout: number;
  readonly lr: number;
  readonly weightDecay: number;
  readonly warmupSteps: number;
  readonly epochs: number;
  readonly batchPairs: number;
  readonly gradAccum: number;
  readonly maxGradNorm: number | null;
  readonly maxSteps: number | null;
  readonly dirichletP: number;
  readonly alphaPer: AlphaCadence;
  readonly truncation: PairTruncation;
  readonly seed: number;
  readonly maxPromptLength: number;
  readonly maxLength: number;
  readonly lengthBuckets: readonly number[];
  readonly checkpointEvery: number;
}

function resolve(options: TrainArmOptions): ResolvedOptions {
  const fail = (message: string): never => {
    throw new TrainerError("INVALID_OPTIONS", message);
  };
  const int = (v: number, min: number, what: string) => (Number.isInteger(v) && v >= min ? v : fail(`${what} must be an integer ≥ ${min}, got ${v}`));
  const pos = (v: number, what: string) => (Number.isFinite(v) && v > 0 ? v : fail(`${what} must be a positive number, got ${v}`));
  const method = options.method ?? "PARM";
  if (method !== "PARM" && method !== "GENARM") fail(`method must be PARM or GENARM, got ${JSON.stringify(method)}`);
  if (!Array.isArray(options.objectives) || options.objectives.length === 0) fail("objectives must list at least one dimension");
  const names = new Set<string>();
  options.objectives.forEach((o, i) => {
    if (typeof o?.name !== "string" || o.name.length === 0) fail(`objectives[${i}].name must be a non-empty string`);
    if (names.has(o.name)) fail(`objective "${o.name}" repeats`);
    names.add(o.name);
    pos(o.beta, `objectives[${i}].beta (${o.name})`);
  });
  const recipe = TRAINING_RECIPES[method];
  const r1 = int(options.r1 ?? recipe.r1, 0, "r1");
  const r2 = int(options.r2 ?? recipe.r2, 1, "r2");
  const maxLength = int(options.maxLength ?? defaultMaxLength(options.model.config.maxSeqLen), 2, "maxLength");
  const maxPromptLength = int(options.maxPromptLength ?? defaultMaxPromptLength(maxLength), 1, "maxPromptLength");
  if (maxPromptLength >= maxLength) fail(`maxPromptLength (${maxPromptLength}) must be below maxLength (${maxLength})`);
  if (maxLength > options.model.config.maxSeqLen) fail(`maxLength ${maxLength} exceeds the model's context ${options.model.config.maxSeqLen}`);
  const lengthBuckets = options.lengthBuckets ? [...options.lengthBuckets] : defaultLengthBuckets(maxLength);
  lengthBuckets.forEach((b, i) => int(b, 2, `lengthBuckets[${i}]`));
  if (Math.max(...lengthBuckets) < maxLength) fail(`the largest length bucket (${Math.max(...lengthBuckets)}) is below maxLength (${maxLength})`);
  if (Math.max(...lengthBuckets) > options.model.config.maxSeqLen) fail(`length bucket ${Math.max(...lengthBuckets)} exceeds the model's context ${options.model.config.maxSeqLen}`);
  const maxGradNorm = options.maxGradNorm === undefined ? recipe.maxGradNorm : options.maxGradNorm;
  if (maxGradNorm !== null) pos(maxGradNorm, "maxGradNorm");
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) fail(`seed must be an integer in [0, 2^32), got ${seed}`);
  const weightDecay = options.weightDecay ?? recipe.weightDecay;
  if (!(weightDecay >= 0)) fail(`weightDecay must be ≥ 0, got ${weightDecay}`);
  if (options.threads !== undefined) int(options.threads, 1, "threads");
  const loraDropout = options.loraDropout ?? TRAINING_RECIPES[method].loraDropout;
  const alphaPer = options.alphaPer ?? TRAINING_RECIPES[method].alphaPer;
  const truncation = options.truncation ?? recipe.truncation;
  if (!(loraDropout >= 0 && loraDropout < 1)) fail(`loraDropout must be in [0, 1), got ${loraDropout}`);
  return {
    method,
    r1,
    r2,
    loraAlpha: pos(options.loraAlpha ?? recipe.loraAlpha, "loraAlpha"),
    loraRank: int(options.loraRank ?? options.r1 ?? recipe.r1, 1, "loraRank"),
    targets: options.targets ?? ["q", "k", "v"],
    loraDropout,
    lr: pos(options.lr ?? recipe.lr, "lr"),
    weightDecay,
    warmupSteps: int(options.warmupSteps ?? recipe.warmupSteps, 0, "warmupSteps"),
    epochs: int(options.epochs ?? recipe.epochs, 1, "epochs"),
    batchPairs: int(options.batchPairs ?? recipe.batchSize, 1, "batchPairs"),
    gradAccum: int(options.gradAccum ?? recipe.gradAccum, 1, "gradAccum"),
    maxGradNorm,
    maxSteps: options.maxSteps === undefined || options.maxSteps === null ? null : int(options.maxSteps, 1, "maxSteps"),
    dirichletP: pos(options.dirichletP ?? recipe.dirichletP, "dirichletP"),
    alphaPer: ALPHA_CADENCES.includes(alphaPer) ? alphaPer : fail(`alphaPer must be one of ${ALPHA_CADENCES.join(", ")}, got ${JSON.stringify(alphaPer)}`),
    truncation: PAIR_TRUNCATIONS.includes(truncation) ? truncation : fail(`truncation must be one of ${PAIR_TRUNCATIONS.join(", ")}, got ${JSON.stringify(truncation)}`),
    seed,
    maxPromptLength,
    maxLength,
    lengthBuckets,
    checkpointEvery: int(options.checkpointEvery ?? 0, 0, "checkpointEvery"),
  };
}

/** One ARM being trained: PARM has one phase, GenARM one per objective. */
interface Phase {
  readonly index: number;
  /** Objective indices this ARM covers (α order). */
  readonly objectives: readonly number[];
  readonly spec: AdapterSpec;
  readonly pairs: readonly PreparedPair[];
  readonly beta: readonly number[];
  readonly tensors: Map<string, Float32Array>;
  readonly optimizer: AdamW;
  readonly updatesPerEpoch: number;
  readonly microBatchesPerEpoch: number;
  /** Updates this phase makes: updatesPerEpoch · epochs, or its share of maxSteps. */
  readonly updates: number;
}

interface DataPosition {
  readonly phase: number;
  readonly epoch: number;
  readonly batch: number;
  readonly phaseSteps: readonly number[];
}

function checkpointName(phase: number, tensor: string): string {
  return `arm${phase}/${tensor}`;
}

function metadataFor(o: ResolvedOptions, spec: AdapterSpec, dimensions: readonly string[], digest: string): AdapterFileMetadata {
  return {
    method: o.method,
    dimensions: [...dimensions],
    r1: spec.mode === "pblora" ? spec.r1 : spec.rank,
    r2: spec.mode === "pblora" ? spec.r2 : 0,
    loraAlpha: spec.loraAlpha,
    scale: adapterScale(spec),
    targets: [...spec.targets],
    baseModelDigest: digest,
  };
}

/** Trains PARM or GenARM adapters; see the module comment. */
export async function trainArm(options: TrainArmOptions): Promise<TrainArmResult> {
  const o = resolve(options);
  const { config, weights, tokenizer } = options.model;
  const k = options.objectives.length;
  const beta = options.objectives.map((obj) => obj.beta);
  const dims = options.objectives.map((obj) => obj.name);
  const prepOptions = { maxLength: o.maxLength, maxPromptLength: o.maxPromptLength, truncation: o.truncation, buckets: o.lengthBuckets };
  const train = preparePairs(tokenizer, options.pairs, k, prepOptions, "training pair");
  if (train.length === 0) throw new TrainerError("NO_TRAINING_PAIRS", "no training pairs");
  const validation = preparePairs(tokenizer, options.validationPairs ?? [], k, prepOptions, "validation pair");
  const digest = options.model.source.sha256;

  const phaseSpecs: { objectives: number[]; spec: AdapterSpec; pairs: PreparedPair[] }[] =
    o.method === "PARM"
      ? [{ objectives: dims.map((_, i) => i), spec: pbloraSpec({ r1: o.r1, r2: o.r2, numObjectives: k, loraAlpha: o.loraAlpha, targets: o.targets }), pairs: train }]
      : dims.map((_, i) => ({ objectives: [i], spec: { mode: "lora" as const, rank: o.loraRank, loraAlpha: o.loraAlpha, targets: o.targets }, pairs: singleObjectivePairs(train, i) }));
  const uncapped = phaseSpecs.map((p, index) => {
    validateAdapterSpec(p.spec);
    if (p.pairs.length === 0) throw new TrainerError("NO_TRAINING_PAIRS", `no training pair is labelled for objective "${dims[p.objectives[0]]}"`);
    const initRng = new Rng(mixSeed(o.seed, 0x1a17, index));
    const tensors = initAdapterTensors(config, p.spec, () => initRng.uniform());
    const micro = microBatchesPerEpoch(p.pairs, o.batchPairs);
    return {
      index,
      objectives: p.objectives,
      spec: p.spec,
      pairs: p.pairs,
      beta: p.objectives.map((i) => beta[i]),
      tensors,
      optimizer: new AdamW(tensors, { lr: o.lr, weightDecay: o.weightDecay }),
      microBatchesPerEpoch: micro,
      updatesPerEpoch: Math.ceil(micro / o.gradAccum),
    };
  });
  const budgets = phaseUpdateBudgets(uncapped.map((p) => p.updatesPerEpoch * o.epochs), o.maxSteps);
  const phases: Phase[] = uncapped.map((p, j) => ({ ...p, updates: budgets[j] }));
  const totalSteps = budgets.reduce((s, n) => s + n, 0);
  const alphaRng = new Rng(mixSeed(o.seed, 0xa1fa));
  const runConfig: JsonValue = {
    method: o.method,
    objectives: options.objectives.map((x) => ({ name: x.name, beta: x.beta })),
    r1: o.r1, r2: o.r2, loraAlpha: o.loraAlpha, loraRank: o.loraRank, targets: [...o.targets],
    lr: o.lr, weightDecay: o.weightDecay, warmupSteps: o.warmupSteps, epochs: o.epochs, batchPairs: o.batchPairs,
    gradAccum: o.gradAccum, maxGradNorm: o.maxGradNorm, dirichletP: o.dirichletP, seed: o.seed,
    maxPromptLength: o.maxPromptLength, maxLength: o.maxLength, lengthBuckets: [...o.lengthBuckets],
    baseModelDigest: digest, trainData: pairsFingerprint(train),
    // Only when set, so checkpoints written before maxSteps / loraDropout existed still resume those runs.
    ...(o.maxSteps !== null ? { maxSteps: o.maxSteps } : {}),
    ...(o.loraDropout > 0 ? { loraDropout: o.loraDropout } : {}),
    ...(o.method === "PARM" && o.alphaPer !== "MICRO_BATCH" ? { alphaPer: o.alphaPer } : {}),
    ...(o.truncation !== "PREFIX_SHARED" ? { truncation: o.truncation } : {}),
  };

  /** The dropout masks' source of one micro-batch: a function of its data position only (see the module comment). */
  const dropoutFor = (phase: number, epoch: number, batch: number) => {
    if (o.loraDropout === 0) return undefined;
    const rng = new Rng(mixSeed(o.seed, 0xd50b, phase, epoch, batch));
    return { ratio: o.loraDropout, random: () => rng.nextU32() / 4294967296 };
  };

  let position: DataPosition = { phase: 0, epoch: 0, batch: 0, phaseSteps: phases.map(() => 0) };
  if (options.resumeFrom) position = resume(options.resumeFrom, phases, alphaRng, runConfig);

  /** Held-out evaluation of the current adapters; `when` names it in a CANCELLED error. */
  const evaluate = async (signal: AbortSignal | undefined, when: string): Promise<HeldOutReport | undefined> => {
    if (validation.length === 0) return undefined;
    try {
      return await evaluateHeldOut(signal);
    } catch (cause) {
      if (signal?.aborted) throw new TrainerError("CANCELLED", `training cancelled during the held-out evaluation ${when}`, { cause });
      throw cause;
    }
  };
  const evaluateHeldOut = async (signal: AbortSignal | undefined): Promise<HeldOutReport> => {
    const alphas = [...simplexVertices(k), ...(options.evaluationAlphas ?? []).map((a) => [...a])];
    alphas.forEach((a, i) => {
      if (a.length !== k || a.some((v) => !(v >= 0)) || Math.abs(a.reduce((s, v) => s + v, 0) - 1) > 1e-6) {
        throw new TrainerError("INVALID_OPTIONS", `evaluation α ${i} must be ${k} non-negative numbers summing to 1, got [${a.join(", ")}]`);
      }
    });
    const scorers = phases.map(
      (p) => new PairScorer({ config, weights, spec: p.spec, batchPairs: options.evaluationBatchPairs ?? 2 * o.batchPairs, padId: tokenizer.eosId, threads: options.threads, weightsAs: options.weightsAs, executionProvider: options.executionProvider }),
    );
    try {
      const front =
        o.method === "PARM"
          ? await evaluateParmAdapter(scorers[0], phases[0].tensors, validation, beta, alphas, signal)
          : await evaluateGenarmAdapters(scorers, phases.map((p) => p.tensors), validation, beta, alphas, signal);
      const objectives = dims.map((name, i) => ({ name, ...front[i].objectives[i] }));
      const finite = objectives.filter((x) => x.pairs > 0);
      return { objectives, meanLoss: finite.reduce((s, x) => s + x.loss, 0) / Math.max(1, finite.length), front };
    } finally {
      for (const s of scorers) await s.release();
    }
  };

  const heldOutBefore = (options.evaluateBefore ?? true) && !options.resumeFrom ? await evaluate(options.signal, "before training") : undefined;

  const history: TrainStepRecord[] = [];
  const started = performance.now();
  let tokens = 0;
  let microBatches = 0;
  let stepsDone = position.phaseSteps.reduce((s, x) => s + x, 0);
  const stepsAtStart = stepsDone;
  let lastCheckpointStep = stepsDone;
  const phaseSteps = [...position.phaseSteps];

  for (let phaseIndex = position.phase; phaseIndex < phases.length; phaseIndex++) {
    const phase = phases[phaseIndex];
    const sessions = new Map<number, Promise<{ graph: ArmTrainGraph; session: EngineSession }>>();
    const slots = new Map<number, number>();
    for (const p of phase.pairs) slots.set(p.bucket, Math.max(slots.get(p.bucket) ?? 1, p.responseTokens));
    const sessionFor = (bucket: number) => {
      let hit = sessions.get(bucket);
      if (!hit) {
        hit = (async () => {
          const graph = buildArmTrainGraph(config, weights, phase.spec, {
            batchPairs: o.batchPairs, seqLen: bucket, responseLen: slots.get(bucket)!, dtype: "float32",
            weightsAs: options.weightsAs ?? "initializers", fuseLogSoftmaxGather: options.fuseLogSoftmaxGather ?? true,
            adapterDropout: o.loraDropout > 0,
          });
          // One session runs back to back here, so its thread pool may spin-wait (bench/train.ts: 8–15% faster).
          const session = await createEngineSession(graph, { executionProvider: options.executionProvider ?? "cpu", allowSpinning: true, ...(options.threads ? { intraOpNumThreads: options.threads } : {}) });
          return { graph, session };
        })();
        sessions.set(bucket, hit);
      }
      return hit;
    };
    const phaseObjectives = phase.objectives.length;
    const adapter = adapterFeeds(config, phase.spec, phase.tensors, "float32");
    try {
      const startEpoch = phaseIndex === position.phase ? position.epoch : 0;
      for (let epoch = startEpoch; epoch < o.epochs && phaseSteps[phaseIndex] < phase.updates; epoch++) {
        const plan = epochPlan(phase.pairs, o.batchPairs, o.seed, phaseIndex, epoch);
        const accumulator = new GradientAccumulator(o.gradAccum);
        let window = { loss: 0, sums: new Array<number>(phaseObjectives).fill(0), counts: new Array<number>(phaseObjectives).fill(0), tokens: 0, alphas: [] as number[][] };
        const startBatch = phaseIndex === position.phase && epoch === position.epoch ? position.batch : 0;
        let stepAlpha: number[] | undefined;
        for (let b = startBatch; b < plan.length && phaseSteps[phaseIndex] < phase.updates; b++) {
          if (options.signal?.aborted) {
            const between = accumulator.pending === 0;
            if (between && stepsDone > lastCheckpointStep && options.onCheckpoint && options.checkpointOnAbort?.(options.signal.reason)) {
              await options.onCheckpoint(checkpointBytes(phases, phaseIndex, alphaRng, { phase: phaseIndex, epoch, batch: b, phaseSteps }, runConfig), stepsDone);
              lastCheckpointStep = stepsDone;
            }
            throw new TrainerError("CANCELLED", `training cancelled after ${stepsDone} of ${totalSteps} updates`);
          }
          const members = plan[b].map((i) => phase.pairs[i]);
          const drawAlpha = phase.spec.mode === "pblora" && (o.alphaPer === "MICRO_BATCH" || accumulator.pending === 0);
          if (drawAlpha) stepAlpha = alphaRng.dirichlet(o.dirichletP, phaseObjectives);
          const alpha = phase.spec.mode === "pblora" ? stepAlpha : undefined;
          const { graph, session } = await sessionFor(members[0].bucket);
          const feeds = {
            ...graph.frozenFeeds,
            ...adapter,
            ...armTrainBatchFeeds(graph, { pairs: members.map((m) => m.arm), alpha, beta: phase.beta, padId: tokenizer.eosId, adapterDropout: dropoutFor(phaseIndex, epoch, b) }),
          };
          const out = await session.run(feeds);
          const loss = (out[ARM_OUTPUTS.loss].data as Float32Array)[0];
          if (!Number.isFinite(loss)) throw new TrainerError("NON_FINITE_LOSS", `loss is ${loss} at update ${stepsDone + 1} (phase ${phaseIndex}, epoch ${epoch}, micro-batch ${b})`);
          const perObjective = out[ARM_OUTPUTS.objectiveLosses].data as Float32Array;
          const grads = new Map<string, Float32Array>();
          for (const [name, output] of graph.gradientNames) grads.set(name, out[output].data as Float32Array);
          accumulator.add(grads);
          window.loss += loss;
          for (let j = 0; j < phaseObjectives; j++) {
            if (members.some((m) => m.counts[j])) {
              window.sums[j] += perObjective[j];
              window.counts[j] += 1;
            }
          }
          const batchTokens = members.reduce((s, m) => s + m.tokens, 0);
          window.tokens += batchTokens;
          tokens += batchTokens;
          microBatches += 1;
          if (alpha) window.alphas.push(alpha);
          if (!accumulator.ready && b < plan.length - 1) continue;
          const windowSize = accumulator.pending;
          const mean = accumulator.take();
          const gradNorm = o.maxGradNorm === null ? globalNorm(mean) : clipGradNorm(mean, o.maxGradNorm);
          const update = phaseSteps[phaseIndex];
          const learningRate = o.lr * cosineWithWarmup(update, { warmupSteps: o.warmupSteps, totalSteps: phase.updates });
          phase.optimizer.step(mean, learningRate);
          phaseSteps[phaseIndex] += 1;
          stepsDone += 1;
          const lossPerObjective = new Array<number>(k).fill(NaN);
          phase.objectives.forEach((objective, j) => (lossPerObjective[objective] = window.counts[j] > 0 ? window.sums[j] / window.counts[j] : NaN));
          const record: TrainStepRecord = {
            step: stepsDone, phase: phaseIndex, epoch, learningRate, loss: window.loss / windowSize, lossPerObjective, gradNorm,
            microBatches: windowSize, tokens: window.tokens, alphas: window.alphas,
          };
          history.push(record);
          window = { loss: 0, sums: new Array<number>(phaseObjectives).fill(0), counts: new Array<number>(phaseObjectives).fill(0), tokens: 0, alphas: [] };
          const seconds = (performance.now() - started) / 1000;
          const rate = (stepsDone - stepsAtStart) / Math.max(seconds, 1e-9);
          options.onProgress?.({
            step: stepsDone, totalSteps, percent: (100 * stepsDone) / totalSteps, etaSeconds: (totalSteps - stepsDone) / Math.max(rate, 1e-9),
            lossPerObjective, loss: record.loss, tokensPerSecond: tokens / Math.max(seconds, 1e-9), learningRate, epoch, phase: phaseIndex,
          });
          if (o.checkpointEvery > 0 && stepsDone % o.checkpointEvery === 0 && options.onCheckpoint) {
            const next = nextPosition(phaseSteps[phaseIndex] >= phase.updates, { phase: phaseIndex, epoch, batch: b }, plan.length, o.epochs);
            await options.onCheckpoint(checkpointBytes(phases, phaseIndex, alphaRng, { ...next, phaseSteps }, runConfig), stepsDone);
            lastCheckpointStep = stepsDone;
          }
        }
      }
    } finally {
      for (const pending of sessions.values()) await pending.then((s) => s.session.release()).catch(() => undefined);
    }
  }

  const heldOutAfter = await evaluate(abortsUnless(options.signal, (reason) => options.checkpointOnAbort?.(reason) ?? false), "after training");
  const seconds = (performance.now() - started) / 1000;
  const adapters: TrainedArm[] = phases.map((p) => {
    const dimensions = p.objectives.map((i) => dims[i]);
    return { method: o.method, dimensions, spec: p.spec, tensors: p.tensors, shapes: adapterTensorShapes(config, p.spec), metadata: metadataFor(o, p.spec, dimensions, digest) };
  });
  return {
    adapters,
    history,
    metrics: {
      steps: stepsDone,
      microBatches,
      tokens,
      seconds,
      tokensPerSecond: tokens / Math.max(seconds, 1e-9),
      trainPairs: train.length,
      truncatedPairs: train.filter((p) => p.truncated).length,
      validationPairs: validation.length,
      buckets: [...new Set(train.map((p) => p.bucket))].sort((a, b) => a - b),
      ...(heldOutBefore ? { heldOutBefore } : {}),
      ...(heldOutAfter ? { heldOutAfter } : {}),
    },
  };
}

/** Where a run continues after micro-batch `at.batch` of an epoch of `batches` (the next phase once `phaseDone`). */
function nextPosition(phaseDone: boolean, at: Omit<DataPosition, "phaseSteps">, batches: number, epochs: number): Omit<DataPosition, "phaseSteps"> {
  if (!phaseDone && at.batch + 1 < batches) return { phase: at.phase, epoch: at.epoch, batch: at.batch + 1 };
  if (!phaseDone && at.epoch + 1 < epochs) return { phase: at.phase, epoch: at.epoch + 1, batch: 0 };
  return { phase: at.phase + 1, epoch: 0, batch: 0 };
}

function globalNorm(grads: ReadonlyMap<string, Float32Array>): number {
  let s = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return Math.sqrt(s);
}

function checkpointBytes(phases: readonly Phase[], current: number, alphaRng: Rng, position: DataPosition, config: JsonValue): Uint8Array {
  const adapter = new Map<string, WeightTensor>();
  const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
  for (const phase of phases) {
    const state = phase.optimizer.exportState();
    for (const [name, data] of phase.tensors) {
      const m = state.moments.get(name)!;
      const key = checkpointName(phase.index, name);
      adapter.set(key, { shape: [data.length], data: data.slice() });
      moments.set(key, m);
    }
  }
  const optimizerState = phases[current].optimizer.exportState();
  return serializeCheckpoint({
    step: position.phaseSteps.reduce((s, x) => s + x, 0),
    adapter,
    optimizer: { step: optimizerState.step, options: optimizerState.options, moments },
    rng: alphaRng.exportState(),
    dataPosition: { phase: position.phase, epoch: position.epoch, batch: position.batch, phaseSteps: [...position.phaseSteps] },
    config,
  });
}

function resume(bytes: Uint8Array, phases: readonly Phase[], alphaRng: Rng, runConfig: JsonValue): DataPosition {
  const checkpoint = deserializeCheckpoint(bytes);
  const saved = JSON.stringify(checkpoint.config);
  const now = JSON.stringify(runConfig);
  if (saved !== now) {
    const a = checkpoint.config as Record<string, JsonValue>;
    const b = runConfig as Record<string, JsonValue>;
    const keys = [...new Set([...Object.keys(a ?? {}), ...Object.keys(b)])];
    const differing = keys.filter((key) => JSON.stringify(a?.[key]) !== JSON.stringify(b[key]));
    throw new TrainerError("RESUME_MISMATCH", `the checkpoint was made by a different run configuration (differs in: ${differing.join(", ") || "layout"})`);
  }
  const position = checkpoint.dataPosition as unknown as DataPosition;
  if (!position || !Array.isArray(position.phaseSteps) || position.phaseSteps.length !== phases.length) {
    throw new TrainerError("RESUME_MISMATCH", "the checkpoint's data position does not fit this run");
  }
  for (const phase of phases) {
    const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
    for (const [name, data] of phase.tensors) {
      const key = checkpointName(phase.index, name);
      const saved = checkpoint.adapter.get(key);
      const moment = checkpoint.optimizer.moments.get(key);
      if (!saved || !moment || saved.data.length !== data.length) throw new TrainerError("RESUME_MISMATCH", `the checkpoint lacks adapter tensor ${key} or its moments`);
      data.set(saved.data);
      moments.set(name, { m: moment.m, v: moment.v });
    }
    phase.optimizer.importState({ step: position.phaseSteps[phase.index], options: checkpoint.optimizer.options, moments });
  }
  alphaRng.importState(checkpoint.rng);
  return { phase: position.phase, epoch: position.epoch, batch: position.batch, phaseSteps: [...position.phaseSteps] };
}

/** The adapter file (train/adapter-file.ts) of a trained ARM, validated against the base config when given. */
export function exportTrainedArm(arm: TrainedArm, config?: LlamaConfig): Uint8Array {
  const tensors = new Map<string, WeightTensor>();
  for (const [name, data] of arm.tensors) tensors.set(name, { shape: [...arm.shapes.get(name)!], data });
  return exportAdapter(tensors, arm.metadata, config);
}
