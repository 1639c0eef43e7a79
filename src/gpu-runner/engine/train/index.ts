/** @module engine/train
 * Training utilities: seedable RNG (α sampling, data order), preference-pair tokenization and batching, AdamW,
 * learning-rate schedules and gradient accumulation, checkpoints, adapter files.
 */
export { Rng, RngError } from "./rng.ts";
export type { RngState } from "./rng.ts";
export {
  bucketFor,
  bucketize,
  collatePairs,
  LABEL_IGNORE,
  PairError,
  pairLength,
  tokenizePair,
} from "./pairs.ts";
export type { PairBatch, PairTokenizationOptions, PairTokenizer, PreferencePair, TokenizedPair, TokenizedSequence } from "./pairs.ts";
export { AdamW, clipGradNorm, OptimizerError } from "./adamw.ts";
export type { AdamWOptions, AdamWState } from "./adamw.ts";
export { cosineWithWarmup, GradientAccumulator, linearWithWarmup, ScheduleError, totalOptimizerSteps } from "./schedule.ts";
export type { WarmupScheduleOptions } from "./schedule.ts";
export { CheckpointError, deserializeCheckpoint, serializeCheckpoint } from "./checkpoint.ts";
export type { JsonValue, TrainingCheckpoint } from "./checkpoint.ts";
export { ADAPTER_FILE_TARGETS, adapterFileScale, AdapterFileError, exportAdapter, importAdapter } from "./adapter-file.ts";
export type { AdapterFile, AdapterFileMetadata, AdapterFileTarget, AdapterImportExpectations, AdapterMethod } from "./adapter-file.ts";
export { DataOrderError, epochPermutation, nextMicroBatch } from "./data-order.ts";
export type { DataCursor } from "./data-order.ts";
