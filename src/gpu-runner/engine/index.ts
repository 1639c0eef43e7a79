/** @module engine
 * The engine's public surface for the runner and the CLI: pure compute on onnxruntime-node, no network or
 * database. Each folder is also available whole as a namespace (`onnx`, `session`, `model`, `train`, `decode`,
 * `pareto`); the flat names below are the ones callers use most: loading a model, building ARM graphs, training
 * and evaluating ARMs, adapter files, sessions.
 */
export const ENGINE_VERSION = "0.1.0";

export * as onnx from "./onnx/index.ts";
export * as session from "./session/index.ts";
export * as model from "./model/index.ts";
export * as train from "./train/index.ts";
export * as decode from "./decode/index.ts";
export * as pareto from "./pareto/index.ts";
export * as evaluate from "./evaluate/index.ts";

// ---- models: loading, config, tokenizers
export type { LlamaConfig, ModelWeights, WeightTensor } from "./model/config.ts";
export type { LoadedModel, ModelFormat, ModelSource } from "./util/loaded-model.ts";
export type { Tokenizer } from "./model/tokenizer.ts";
export { loadGguf } from "./model/gguf.ts";
export { loadHfFolder } from "./model/hf.ts";
export { parseSafetensors, writeSafetensors } from "./model/safetensors.ts";
export { categoryOfCause, EngineError, UnreachableCaseError, type EngineErrorCategory } from "./util/errors.ts";
export { CancelledError, throwIfCancelled } from "./util/abort.ts";

// ---- adapters and ARM graphs
export {
  ADAPTER_TARGETS,
  adapterObjectives,
  adapterScale,
  adapterTensorShapes,
  AdapterSpecError,
  initAdapterTensors,
  pbloraSpec,
  validateAdapterSpec,
  type AdapterSpec,
  type AdapterTarget,
  type LoraSpec,
  type PbloraSpec,
} from "./model/pblora.ts";
export {
  adapterFeeds,
  ARM_INPUTS,
  ARM_OUTPUTS,
  ArmBatchError,
  armTrainBatchFeeds,
  buildArmScoreGraph,
  buildArmTrainGraph,
  packArmRows,
  type ArmPair,
  type ArmRow,
  type ArmScoreGraph,
  type ArmTrainGraph,
} from "./model/arm-graph.ts";
export type { WeightsPlacement } from "./model/llama-graph.ts";

// ---- sessions
export { createEngineSession, EngineSession, SessionCreateError, SessionRunError, type EngineSessionOptions, type ExecutionProviderChoice } from "./session/index.ts";

// ---- training and held-out evaluation
export type { PreferencePair } from "./train/pairs.ts";
export { exportAdapter, importAdapter, AdapterFileError, type AdapterFile, type AdapterFileMetadata, type AdapterMethod } from "./train/adapter-file.ts";
export { deserializeCheckpoint, serializeCheckpoint, CheckpointError, type TrainingCheckpoint } from "./train/checkpoint.ts";
export {
  exportTrainedArm,
  trainArm,
  TrainerError,
  type HeldOutReport,
  type TrainableModel,
  type TrainArmOptions,
  type TrainArmResult,
  type TrainedArm,
  type TrainerErrorCode,
  type TrainMetrics,
  type TrainObjective,
  type TrainProgress,
  type TrainStepRecord,
} from "./train/trainer.ts";
export { defaultLengthBuckets, preparePairs, type PreparedPair } from "./train/trainer-data.ts";
export {
  evaluateGenarmAdapters,
  evaluateParmAdapter,
  PairScorer,
  simplexVertices,
  summarizeMargins,
  type AlphaEvaluation,
  type ObjectiveEvaluation,
  type PairScorerOptions,
} from "./train/evaluate-pairs.ts";
