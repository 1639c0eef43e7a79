/**
 * @module gpu-runner/worker/engine-tasks — runs one engine task (training, generation) to completion, reporting
 * through `post`. Runs inside a worker thread (worker/engine-worker.ts); also callable in-thread by tests. Loaded
 * models are cached by path (at most `MODEL_CACHE_SIZE`, oldest evicted).
 */
import { statSync } from "node:fs";
import {
  decode,
  exportTrainedArm,
  importAdapter,
  loadGguf,
  loadHfFolder,
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

  async #load(ref: ModelFileRef): Promise<LoadedModel> {
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
        return this.#generate(task, post);
      case "train-evaluator":
        return this.#trainEvaluator(task, post, signal);
      case "evaluate":
        return this.#evaluate(task, post, signal);
      default:
        throw new Error(`unknown engine task ${JSON.stringify((task satisfies never as { kind: string }).kind)}`);
    }
  }

  async #train(task: TrainTask, post: (message: DistributiveOmit<TaskMessage, "taskId">) => void, signal: AbortSignal): Promise<TrainTaskResult> {
    const model = await this.#load(task.model);
    const result: TrainArmResult = await trainArm({
      model,
      method: task.method,
      objectives: task.objectives,
      pairs: task.pairs,
      validationPairs: task.validationPairs,
      r1: task.r1,
      r2: task.r2,
      loraAlpha: task.loraAlpha,
      targets: adapterTargets(task.targets),
      lr: task.lr,
      epochs: task.epochs,
      batchPairs: task.batchPairs,
      gradAccum: task.gradAccum,
      warmupSteps: task.warmupSteps,
      weightDecay: task.weightDecay,
      dirichletP: task.dirichletP,
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
    const model = await this.#load(task.model);
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
    const base = await this.#load(task.base);
    const armModel = await this.#load(task.arm.model);
    const adapters = task.arm.adapters.map((bytes) => decode.decodeAdapterFromFile(importAdapter(bytes, { config: armModel.config })));
    const arm: decode.GeneratorOptions["arm"] =
      task.arm.method === "PARM" ? { model: armModel, adapter: adapters[0] } : { genarm: adapters.map((adapter) => ({ model: armModel, adapter })) };
    const generator = decode.createGenerator({ base, arm, threads: task.runtime.threads });
    const maxPromptTokens = evaluation.evaluationPromptLimit({ context: generator.context, maxTokens: task.maxTokens, maxPromptTokens: task.maxPromptTokens });
    const evaluators: evaluation.Evaluator[] = [];
    for (const [i, e] of task.evaluators.entries()) {
      evaluators.push(
        e.format === "ONNX"
          ? await evaluation.OnnxRewardEvaluator.create({ name: task.objectiveNames[i], model: e.path, tokenizer: base.tokenizer, padId: base.tokenizer.eosId, threads: task.runtime.threads, executionProvider: task.runtime.provider })
          : new evaluation.RewardModelEvaluator({
              backbone: base,
              model: evaluation.importRewardModel(new Uint8Array(readFileSync(e.path))),
              name: task.objectiveNames[i],
              threads: task.runtime.threads,
              executionProvider: task.runtime.provider,
            }),
      );
    }
    const s = task.sampling;
    const sampling: decode.SamplingConfig =
      s.temperature === 0 ? { kind: "greedy" } : { kind: "sample", temperature: s.temperature, topK: s.topK, topP: s.topP, seed: s.seed ?? 0 };
    const started = performance.now();
    try {
      const result = await evaluation.runEvaluation({
        step: task.gridStep,
        prompts: task.prompts,
        evaluators,
        objectiveNames: task.objectiveNames,
        ...(task.referencePoint ? { referencePoint: task.referencePoint } : {}),
        generate: async (prompt, alphas) => {
          const out = await generator.generate({ prompt, alphas, beta: task.beta, sampling, maxNewTokens: task.maxTokens, maxPromptTokens });
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
      };
    } finally {
      await generator.release();
      for (const e of evaluators) await (e as { release?: () => Promise<void> }).release?.();
    }
  }

  async #generate(task: GenerateTask, post: (message: DistributiveOmit<TaskMessage, "taskId">) => void): Promise<GenerateTaskResult> {
    const base = await this.#load(task.base);
    let arm: decode.GeneratorOptions["arm"];
    if (task.arm) {
      const armModel = await this.#load(task.arm.model);
      const adapters = task.arm.adapters.map((bytes) => decode.decodeAdapterFromFile(importAdapter(bytes, { config: armModel.config })));
      arm = task.arm.method === "PARM" ? { model: armModel, adapter: adapters[0] } : { genarm: adapters.map((adapter) => ({ model: armModel, adapter })) };
    }
    const generator = decode.createGenerator({ base, ...(arm ? { arm } : {}), threads: task.runtime.threads });
    const positions = task.alphas.map(() => 0);
    try {
      const s = task.sampling;
      const sampling: decode.SamplingConfig =
        s.temperature === 0
          ? { kind: "greedy" }
          : { kind: "sample", temperature: s.temperature, topK: s.topK, topP: s.topP, seed: s.seed ?? Math.floor(Math.random() * 2 ** 31) };
      const result = await generator.generate(
        {
          prompt: task.prompt,
          ...(task.arm ? { alphas: task.alphas } : {}),
          beta: task.beta,
          sampling,
          stop: task.stop,
          maxNewTokens: task.maxTokens,
          requireMaxNewTokens: true,
        },
        (token) => {
          const position = positions[token.index]++;
          post({ type: "token", outputIndex: token.index, position, tokenId: token.tokenId, text: token.text });
        },
      );
      return {
        kind: "generate",
        outputs: result.outputs.map((o, i) => ({
          alpha: task.arm ? [...task.alphas[i]] : [],
          text: o.text,
          tokenCount: o.tokenIds.length,
          finishReason: o.finishReason === "max-new-tokens" || o.finishReason === "context-length" ? "length" : "stop",
        })),
        tokensPerSecond: result.timings.tokensPerSecond,
        timeToFirstTokenMs: result.timings.timeToFirstTokenMs,
      };
    } finally {
      await generator.release();
    }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function finiteOnly(values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => typeof v === "number" && Number.isFinite(v)));
}
