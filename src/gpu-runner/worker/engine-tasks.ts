/**
 * @module gpu-runner/worker/engine-tasks — runs one engine task (training, evaluator training, generation,
 * evaluation) to completion, reporting through `post`. Runs inside a worker thread (worker/engine-worker.ts); also
 * callable in-thread by tests. Loaded models are cached by path (at most `MODEL_CACHE_SIZE`, oldest evicted).
 *
 * Cancellation: `signal` reaches every phase. It is checked after each model load and evaluator creation, and the
 * engine checks it between micro-batches and held-out scoring batches (training), between tokens (generation) and
 * between prompts, points and scoring batches (evaluation); an aborted task rejects with the engine's CANCELLED
 * error and releases every session it created, so the worker is ready for its next task. Evaluations generate
 * at most `EVALUATION_ALPHA_BATCH` preference vectors per batch, so one decoding step stays short and memory stays
 * bounded however fine the grid.
 */
import { statSync } from "node:fs";
import {
  decode,
  exportTrainedArm,
  importAdapter,
  loadGguf,
  loadHfFolder,
  throwIfCancelled,
  trainArm,
  type LoadedModel,
  type TrainArmResult,
} from "../engine/index.ts";
import { adapterTargets } from "../handlers/train-data.ts";
import { readFileSync } from "node:fs";
import * as evaluation from "../engine/evaluate/index.ts";
import type {
  EngineTask,
  EngineTaskResult,
  EvaluateTask,
  EvaluateTaskResult,
  GenerateTask,
  GenerateTaskResult,
  ModelFileRef,
  TaskMessage,
  TrainEvaluatorTask,
  TrainEvaluatorTaskResult,
  TrainTask,
  TrainTaskResult,
} from "./protocol.ts";

const MODEL_CACHE_SIZE = 3;

/** Preference vectors an evaluation decodes together (one generator batch). */
export const EVALUATION_ALPHA_BATCH = 16;

/** A task-to-engine bridge with its own model cache. */
export class EngineTaskRunner {
  readonly #models = new Map<string, { id: string; model: Promise<LoadedModel> }>();

  constructor(private readonly onModelsChanged: (modelIds: readonly string[]) => void = () => {}) {}

  /** Drops the model cache (weights and tokenizers; sessions live only as long as their task). */
  clear(): void {
    this.#models.clear();
    this.onModelsChanged([]);
  }

  get loadedModelIds(): string[] {
    return [...new Set([...this.#models.values()].map((m) => m.id))];
  }

  /** The model at `ref.path` (cached); CancelledError once loaded when `signal` aborted meanwhile. */
  async #load(ref: ModelFileRef, signal: AbortSignal): Promise<LoadedModel> {
    const model = await this.#loadCached(ref);
    throwIfCancelled(signal, () => `cancelled after loading model ${ref.id}`);
    return model;
  }

  async #loadCached(ref: ModelFileRef): Promise<LoadedModel> {
    const hit = this.#models.get(ref.path);
    if (hit) {
      this.#models.delete(ref.path);
      this.#models.set(ref.path, hit);
      return hit.model;
    }
    const model = (async () => (statSync(ref.path).isDirectory() ? loadHfFolder(ref.path) : loadGguf(ref.path)))();
    this.#models.set(ref.path, { id: ref.id, model });
    model.catch(() => this.#models.delete(ref.path));
    while (this.#models.size > MODEL_CACHE_SIZE) this.#models.delete(this.#models.keys().next().value!);
    const loaded = await model;
    this.onModelsChanged(this.loadedModelIds);
    return loaded;
  }

  async run(task: EngineTask, post: (message: DistributiveOmit<TaskMessage, "taskId">) => void, signal: AbortSignal): Promise<EngineTaskResult> {
    switch (task.kind) {
      case "train":
        return this.#train(task, post, signal);
      case "generate":
        return this.#generate(task, post, signal);
      case "train-evaluator":
        return this.#trainEvaluator(task, post, signal);
      case "evaluate":
        return this.#evaluate(task, post, signal);
      default:
        throw new Error(`unknown engine task ${JSON.stringify((task satisfies never as { kind: string }).kind)}`);
    }
  }

  async #train(task: TrainTask, post: (message: DistributiveOmit<TaskMessage, "taskId">) => void, signal: AbortSignal): Promise<TrainTaskResult> {
    const model = await this.#load(task.model, signal);
    const result: TrainArmResult = await trainArm({
      model,
      method: task.method,
      objectives: task.objectives,
      pairs: task.pairs,
      validationPairs: task.validationPairs,
      r1: task.r1,
      r2: task.r2,
      loraAlpha: task.loraAlpha,
      ...(task.loraRank !== null ? { loraRank: task.loraRank } : {}),
      loraDropout: task.loraDropout,
      targets: adapterTargets(task.targets),
      lr: task.lr,
      epochs: task.epochs,
      batchPairs: task.batchPairs,
      gradAccum: task.gradAccum,
      warmupSteps: task.warmupSteps,
      weightDecay: task.weightDecay,
      dirichletP: task.dirichletP,
      alphaPer: task.alphaPer,
      truncation: task.truncation,
      seed: task.seed,
      maxPromptLength: task.maxPromptLength,
      maxLength: task.maxLength,
      threads: task.runtime.threads,
      executionProvider: task.runtime.provider,
      checkpointEvery: task.checkpointEvery,
      maxSteps: task.maxSteps,
      ...(task.resumeFrom ? { resumeFrom: task.resumeFrom } : {}),
      onCheckpoint: (bytes, step) => post({ type: "checkpoint", step, bytes }),
      checkpointOnAbort: (reason) => reason === "shutdown",
      onProgress: (p) =>
        post({
          type: "progress",
          progress: {
            step: p.step,
            totalSteps: p.totalSteps,
            percent: Math.min(100, Math.max(0, p.percent)),
            etaSeconds: Number.isFinite(p.etaSeconds) ? Math.max(0, p.etaSeconds) : null,
            lossPerObjective: p.lossPerObjective.map((l) => (Number.isFinite(l) ? l : 0)),
            tokensPerSecond: Number.isFinite(p.tokensPerSecond) ? p.tokensPerSecond : 0,
            metrics: finiteOnly({ loss: p.loss, learningRate: p.learningRate, epoch: p.epoch, phase: p.phase }),
          },
        }),
      signal,
    });
    const names = task.objectives.map((o) => o.name);
    const last = result.history[result.history.length - 1];
    const metrics: Record<string, number> = {
      steps: result.metrics.steps,
      seconds: result.metrics.seconds,
      tokensPerSecond: result.metrics.tokensPerSecond,
      trainPairs: result.metrics.trainPairs,
      validationPairs: result.metrics.validationPairs,
    };
    if (last) {
      metrics.loss = last.loss;
      names.forEach((name, i) => (metrics[`loss.${name}`] = last.lossPerObjective[i]));
    }
    for (const o of result.metrics.heldOutAfter?.objectives ?? []) {
      metrics[`heldOut.loss.${o.name}`] = o.loss;
      metrics[`heldOut.accuracy.${o.name}`] = o.accuracy;
    }
    return {
      kind: "train",
      adapters: result.adapters.map((arm) => ({ dimensions: [...arm.dimensions], bytes: exportTrainedArm(arm, model.config) })),
      metrics: finiteOnly(metrics),
    };
  }

  async #trainEvaluator(task: TrainEvaluatorTask, post: (message: DistributiveOmit<TaskMessage, "taskId">) => void, signal: AbortSignal): Promise<TrainEvaluatorTaskResult> {
    const model = await this.#load(task.model, signal);
    const started = performance.now();
    const result = await evaluation.trainEvaluator({
      model,
      dimension: task.dimension,
      pairs: task.pairs,
      validationPairs: task.validationPairs,
      lr: task.lr,
      epochs: task.epochs,
      batchPairs: task.batchPairs,
      seed: task.seed,
      maxLength: task.maxLength,
      maxPromptLength: Math.max(1, Math.floor(task.maxLength / 2)),
      pooling: task.pooling,
      threads: task.runtime.threads,
      executionProvider: task.runtime.provider,
      signal,
      onProgress: (p) => {
        const seconds = (performance.now() - started) / 1000;
        const rate = p.step / Math.max(seconds, 1e-9);
        post({
          type: "progress",
          progress: {
            step: p.step,
            totalSteps: p.totalSteps,
            percent: Math.min(100, (100 * p.step) / Math.max(1, p.totalSteps)),
            etaSeconds: rate > 0 ? (p.totalSteps - p.step) / rate : null,
            lossPerObjective: Number.isFinite(p.loss) ? [p.loss] : [],
            tokensPerSecond: 0,
            metrics: finiteOnly({ loss: p.loss, learningRate: p.learningRate, epoch: p.epoch }),
          },
        });
      },
    });
    const m = result.metrics;
    return {
      kind: "train-evaluator",
      bytes: evaluation.exportRewardModel(result.model, model.config),
      metrics: finiteOnly({
        steps: m.steps,
        seconds: m.seconds,
        trainPairs: m.trainPairs,
        validationPairs: m.validationPairs,
        ...(m.heldOutAfter ? { "heldOut.accuracy": m.heldOutAfter.accuracy, "heldOut.loss": m.heldOutAfter.loss } : {}),
        ...(m.trainAccuracy ? { "train.accuracy": m.trainAccuracy.accuracy } : {}),
      }),
    };
  }

  async #evaluate(task: EvaluateTask, post: (message: DistributiveOmit<TaskMessage, "taskId">) => void, signal: AbortSignal): Promise<EvaluateTaskResult> {
    const base = await this.#load(task.base, signal);
    const armModel = await this.#load(task.arm.model, signal);
    const generator = decode.createGenerator({ base, arm: guidance(armModel, task.arm), threads: task.runtime.threads, executionProvider: task.runtime.provider });
    const evaluators: evaluation.Evaluator[] = [];
    try {
      const maxPromptTokens = evaluation.evaluationPromptLimit({ context: generator.context, maxTokens: task.maxTokens, maxPromptTokens: task.maxPromptTokens });
      for (const i of task.evaluators.keys()) {
        throwIfCancelled(signal, () => `evaluation cancelled while creating evaluator ${i + 1} of ${task.evaluators.length}`);
        evaluators.push(await createEvaluator(task, i, base));
      }
      const sampling = samplingOf(task.sampling, 0);
      const started = performance.now();
      const generationPrompt = new Map(task.prompts.map((prompt, i) => [prompt, task.generationPrompts?.[i] ?? prompt]));
      const result = await evaluation.runEvaluation({
        step: task.gridStep,
        prompts: task.prompts,
        evaluators,
        objectiveNames: task.objectiveNames,
        ...(task.referencePoint ? { referencePoint: task.referencePoint } : {}),
        alphaBatch: EVALUATION_ALPHA_BATCH,
        generate: async (prompt, alphas) => {
          const out = await generator.generate({ prompt: generationPrompt.get(prompt) ?? prompt, alphas, beta: task.beta, sampling, maxNewTokens: task.maxTokens, maxPromptTokens, signal });
          return out.outputs.map((o) => o.text);
        },
        onPoint: (point, done, total) => {
          post({ type: "point", index: point.index, alpha: [...point.alpha], rewards: [...point.rewards], promptCount: point.perPrompt.length });
          const seconds = (performance.now() - started) / 1000;
          post({
            type: "progress",
            progress: { step: done, totalSteps: total, percent: (100 * done) / total, etaSeconds: (seconds / done) * (total - done), lossPerObjective: [], tokensPerSecond: 0, metrics: {} },
          });
        },
        signal,
      });
      return {
        kind: "evaluate",
        hypervolume: result.report.hypervolume,
        referencePoint: [...result.report.referencePoint],
        mip: result.report.mip,
        frontIndices: [...result.report.front],
        points: result.points.length,
        seconds: result.seconds,
        reportJson: JSON.stringify(result.report),
        svg: result.svg,
      };
    } finally {
      await generator.release();
      for (const e of evaluators) await e.release();
    }
  }

  async #generate(task: GenerateTask, post: (message: DistributiveOmit<TaskMessage, "taskId">) => void, signal: AbortSignal): Promise<GenerateTaskResult> {
    const base = await this.#load(task.base, signal);
    const arm = task.arm ? guidance(await this.#load(task.arm.model, signal), task.arm) : undefined;
    const generator = decode.createGenerator({ base, ...(arm ? { arm } : {}), threads: task.runtime.threads, executionProvider: task.runtime.provider });
    const samples = task.samplesPerAlpha;
    const rows = task.alphas.flatMap((alpha) => new Array<readonly number[]>(samples).fill(alpha));
    const positions = rows.map(() => 0);
    try {
      const result = await generator.generate(
        {
          prompt: task.prompt,
          ...(task.arm || samples > 1 ? { alphas: rows, rowSeedOffsets: rows.map((_, r) => r % samples) } : {}),
          beta: task.beta,
          sampling: samplingOf(task.sampling, Math.floor(Math.random() * 2 ** 31)),
          stop: task.stop,
          maxNewTokens: task.maxTokens,
          requireMaxNewTokens: true,
          signal,
        },
        (token) => {
          const position = positions[token.index]++;
          post({ type: "token", outputIndex: token.index, position, tokenId: token.tokenId, text: token.text });
        },
      );
      return {
        kind: "generate",
        outputs: result.outputs.map((o, i) => ({
          alpha: task.arm ? [...rows[i]!] : [],
          text: o.text,
          tokenCount: o.tokenIds.length,
          finishReason: o.finishReason === "max-new-tokens" || o.finishReason === "context-length" ? "length" : "stop",
        })),
        promptTokens: result.promptTokenIds.length,
        tokensPerSecond: result.timings.tokensPerSecond,
        timeToFirstTokenMs: result.timings.timeToFirstTokenMs,
      };
    } finally {
      await generator.release();
    }
  }
}

/** The generator's guidance for an ARM backbone and its adapter files (PARM: one; GenARM: one per objective). */
function guidance(armModel: LoadedModel, arm: { readonly method: "PARM" | "GENARM"; readonly adapters: readonly Uint8Array[] }): NonNullable<decode.GeneratorOptions["arm"]> {
  const adapters = arm.adapters.map((bytes) => decode.decodeAdapterFromFile(importAdapter(bytes, { config: armModel.config })));
  return arm.method === "PARM" ? { model: armModel, adapter: adapters[0] } : { genarm: adapters.map((adapter) => ({ model: armModel, adapter })) };
}

/** A task's sampling settings as the engine's config; `defaultSeed` when the task gives none. */
function samplingOf(s: GenerateTask["sampling"], defaultSeed: number): decode.SamplingConfig {
  return s.temperature === 0 ? { kind: "greedy" } : { kind: "sample", temperature: s.temperature, topK: s.topK, topP: s.topP, seed: s.seed ?? defaultSeed };
}

/** Evaluator `i` of an evaluation: an ONNX reward model, or an evaluator file trained on `base`. */
async function createEvaluator(task: EvaluateTask, i: number, base: LoadedModel): Promise<evaluation.Evaluator> {
  const e = task.evaluators[i];
  const common = { name: task.objectiveNames[i], threads: task.runtime.threads, executionProvider: task.runtime.provider };
  if (e.format === "ONNX") return evaluation.OnnxRewardEvaluator.create({ ...common, model: e.path, tokenizer: base.tokenizer, padId: base.tokenizer.eosId });
  return new evaluation.RewardModelEvaluator({ ...common, backbone: base, model: evaluation.importRewardModel(new Uint8Array(readFileSync(e.path))) });
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function finiteOnly(values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => typeof v === "number" && Number.isFinite(v)));
}
