/** @module gpu-runner/handlers — one JobHandler per job kind and the helpers they share. */
export { handlerFor } from "./table.ts";
export { trainHandler, checkpointKey, adapterKeyPrefix } from "./train.ts";
export { generateHandler } from "./generate.ts";
export { evaluateHandler } from "./evaluate.ts";
export { trainEvaluatorHandler, evaluatorPairs, type EvaluatorPairs } from "./train-evaluator.ts";
export { JobFailureError, type JobContext, type JobHandler, type CompletedFields, type RunnerLogger } from "./types.ts";
export { parseSnapshot, trainingPairs, adapterTargets, SnapshotFormatError, UnknownTargetError, type SnapshotForTraining } from "./train-data.ts";
export { ADAPTER_MANIFEST_SUFFIX, type AdapterManifest } from "./inputs.ts";
