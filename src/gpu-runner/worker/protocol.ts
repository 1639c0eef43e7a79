/**
 * @module gpu-runner/worker/protocol — messages between the runner's main thread and an engine worker thread.
 * One worker runs one task at a time; the main thread keeps NATS (heartbeats, `working()`, events) responsive.
 */
import type { EngineErrorCategory, evaluate, PreferencePair } from "../engine/index.ts";

export interface ModelFileRef {
  /** Model id (reported in heartbeats as a loaded model). */
  readonly id: string;
  readonly path: string;
}

export interface EngineRuntime {
  readonly provider: "cpu" | "cuda" | "webgpu";
  readonly threads: number;
}

export interface TrainTask {
  readonly kind: "train";
  readonly model: ModelFileRef;
  readonly method: "PARM" | "GENARM";
  readonly objectives: readonly { readonly name: string; readonly beta: number }[];
  readonly pairs: readonly PreferencePair[];
  readonly validationPairs: readonly PreferencePair[];
  readonly r1: number;
  readonly r2: number;
  readonly loraAlpha: number;
  /** GenARM's LoRA rank (the payload's r1); null for PARM. */
  readonly loraRank: number | null;
  readonly loraDropout: number;
  readonly targets: readonly string[];
  readonly lr: number;
  readonly epochs: number;
  readonly batchPairs: number;
  readonly gradAccum: number;
  readonly warmupSteps: number;
  readonly weightDecay: number;
  readonly dirichletP: number;
  readonly alphaPer: "STEP" | "MICRO_BATCH";
  readonly truncation: "TRL" | "PREFIX_SHARED";
  readonly seed: number;
  readonly maxPromptLength: number;
  readonly maxLength: number;
  readonly checkpointEvery: number;
  /** At most this many optimizer updates in all (null: the epochs decide). */
  readonly maxSteps: number | null;
  readonly resumeFrom: Uint8Array | null;
  readonly runtime: EngineRuntime;
}

export interface TrainTaskResult {
  readonly kind: "train";
  /** One adapter file per ARM (PARM: one; GenARM: one per objective), with its dimensions. */
  readonly adapters: readonly { readonly dimensions: readonly string[]; readonly bytes: Uint8Array }[];
  readonly metrics: Readonly<Record<string, number>>;
}

export interface GenerateTask {
  readonly kind: "generate";
  readonly base: ModelFileRef;
  /** null: unguided decoding. PARM: one adapter; GenARM: one adapter per objective, in α order. */
  readonly arm: { readonly model: ModelFileRef; readonly method: "PARM" | "GENARM"; readonly adapters: readonly Uint8Array[] } | null;
  readonly prompt: string;
  readonly alphas: readonly (readonly number[])[];
  /** Outputs per α: sample j is decoded with seed + j; outputs (and token events' outputIndex) are α-major. */
  readonly samplesPerAlpha: number;
  readonly beta: number;
  readonly sampling: { readonly temperature: number; readonly topK: number; readonly topP: number; readonly seed: number | null };
  readonly stop: readonly string[];
  readonly maxTokens: number;
  readonly runtime: EngineRuntime;
}

export interface GenerateTaskResult {
  readonly kind: "generate";
  readonly outputs: readonly { readonly alpha: number[]; readonly text: string; readonly tokenCount: number; readonly finishReason: "stop" | "length" }[];
  /** Tokens of the prompt as decoded (after `maxPromptTokens`, when that cut it). */
  readonly promptTokens: number;
  readonly tokensPerSecond: number;
  readonly timeToFirstTokenMs: number;
}

export interface TrainEvaluatorTask {
  readonly kind: "train-evaluator";
  readonly model: ModelFileRef;
  readonly dimension: string;
  /** Single-label pairs (`preferred: [0 | 1]`). */
  readonly pairs: readonly PreferencePair[];
  readonly validationPairs: readonly PreferencePair[];
  readonly lr: number;
  readonly epochs: number;
  readonly batchPairs: number;
  readonly seed: number;
  readonly maxLength: number;
  /** Where the score head reads: the last token or the mean over the response tokens. */
  readonly pooling: evaluate.RewardPooling;
  readonly runtime: EngineRuntime;
}

export interface TrainEvaluatorTaskResult {
  readonly kind: "train-evaluator";
  readonly bytes: Uint8Array;
  readonly metrics: Readonly<Record<string, number>>;
}

export interface EvaluateTask {
  readonly kind: "evaluate";
  readonly base: ModelFileRef;
  readonly arm: { readonly model: ModelFileRef; readonly method: "PARM" | "GENARM"; readonly adapters: readonly Uint8Array[] };
  /** One per dimension, α order: an evaluator file (trained on the base model) or an ONNX reward model. */
  readonly evaluators: readonly { readonly id: string; readonly path: string; readonly format: "GGUF" | "SAFETENSORS" | "ONNX" }[];
  readonly objectiveNames: readonly string[];
  /** The prompts as evaluators score them. */
  readonly prompts: readonly string[];
  /** What generation starts from for each of `prompts` (same order: a prompt template applied); absent = `prompts`. */
  readonly generationPrompts?: readonly string[];
  readonly gridStep: number;
  readonly referencePoint: readonly number[] | null;
  readonly beta: number;
  readonly sampling: GenerateTask["sampling"];
  readonly maxTokens: number;
  /** Longer prompts keep their last maxPromptTokens tokens; null: the models' context − maxTokens. */
  readonly maxPromptTokens: number | null;
  readonly runtime: EngineRuntime;
}

export interface EvaluateTaskResult {
  readonly kind: "evaluate";
  readonly hypervolume: number;
  readonly referencePoint: number[];
  readonly mip: number;
  readonly frontIndices: number[];
  readonly points: number;
  readonly seconds: number;
  /** The engine's Pareto report (pareto/report.ts) as JSON text, stored beside the job as `report.json`. */
  readonly reportJson: string;
  /** The Pareto plot of that report (pareto/plot.ts), stored as `plot.svg`. */
  readonly svg: string;
}

export type EngineTask = TrainTask | GenerateTask | TrainEvaluatorTask | EvaluateTask;
export type EngineTaskResult = TrainTaskResult | GenerateTaskResult | TrainEvaluatorTaskResult | EvaluateTaskResult;

export interface TaskProgress {
  readonly step: number;
  readonly totalSteps: number;
  readonly percent: number;
  readonly etaSeconds: number | null;
  readonly lossPerObjective: readonly number[];
  readonly tokensPerSecond: number;
  readonly metrics: Readonly<Record<string, number>>;
}

/** A serialisable error: name, code, message and category of what the engine threw (worker/task-error.ts). */
export interface TaskErrorInfo {
  readonly name: string;
  readonly code: string | null;
  readonly message: string;
  readonly category: EngineErrorCategory;
}

export type MainToWorker =
  | { readonly type: "run"; readonly taskId: number; readonly task: EngineTask }
  | { readonly type: "cancel"; readonly taskId: number; /** Why: "cancel" (the user) or "shutdown" (hand the job back, checkpointed). */ readonly reason?: string }
  /** Stop every task at its next step (reason "shutdown"), await them (their sessions are released as they end),
   *  drop the model cache and close the port, so the thread exits by itself outside any native call. */
  | { readonly type: "close" };

export type WorkerToMain =
  | { readonly type: "progress"; readonly taskId: number; readonly progress: TaskProgress }
  | { readonly type: "token"; readonly taskId: number; readonly outputIndex: number; readonly position: number; readonly tokenId: number; readonly text: string }
  | { readonly type: "checkpoint"; readonly taskId: number; readonly step: number; readonly bytes: Uint8Array }
  | { readonly type: "point"; readonly taskId: number; readonly index: number; readonly alpha: number[]; readonly rewards: number[]; readonly promptCount: number }
  | { readonly type: "models"; readonly modelIds: readonly string[] }
  | { readonly type: "done"; readonly taskId: number; readonly result: EngineTaskResult }
  | { readonly type: "failed"; readonly taskId: number; readonly error: TaskErrorInfo };

/** Posted by the worker to report a task's stream of intermediate results. */
export type TaskMessage = Extract<WorkerToMain, { type: "progress" | "token" | "checkpoint" | "point" }>;
