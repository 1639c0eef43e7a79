/**
 * @module gpu-runner/runner/failures — maps whatever a job threw to the contract's failure code, a reason the user
 * can act on, and whether another attempt may succeed. Handler-made JobFailureErrors pass through; engine errors
 * arrive from the worker as TaskFailedError with the engine's error name and code.
 *
 * Contract: an error the engine raises deterministically from the job's input is never retryable (a redelivery
 * would fail the same way, max_deliver times over):
 * - sequence length (PROMPT_TOO_LONG, SEQUENCE_TOO_LONG, CONTEXT_FULL, a graph asked for more positions than the
 *   model's context, onnxruntime's "indices element out of data bounds") → INVALID_PAYLOAD, the reason tagged with
 *   the engine code (`PROMPT_TOO_LONG: …`; SEQUENCE_TOO_LONG for the last two) and naming the payload fields of
 *   the job's kind to change (generate: prompt / maxTokens; evaluate: maxPromptTokens / maxTokens; train:
 *   maxLength / maxPromptLength; train-evaluator: maxLength);
 * - bad options, pairs, α, β, sampling, stop strings, adapter targets, adapter files, grid → INVALID_PAYLOAD, the
 *   reason prefixed with the payload field when the error identifies one (`alphas: …`);
 * - unreadable model, tokenizer or evaluator files, or a bad model config → MODEL_UNAVAILABLE;
 * - CANCELLED, VOCABULARY_MISMATCH as named; NUMERICAL_DIVERGENCE for a non-finite training loss or non-finite
 *   logits while decoding.
 * Only out of memory (OUT_OF_MEMORY) and anything unrecognised (INTERNAL) are retryable.
 */
import { ContractValidationError, type JobFailureCode, type JobKind } from "../../contracts/index.ts";
import { JobFailureError } from "../handlers/index.ts";
import { TaskFailedError, type TaskErrorInfo } from "../worker/index.ts";

export interface ClassifiedFailure {
  readonly code: JobFailureCode;
  readonly reason: string;
  readonly retryable: boolean;
}

/** Engine codes of bad job input that are not about sequence length. */
const INVALID_INPUT_CODES = new Set([
  "INVALID_OPTIONS", "NO_TRAINING_PAIRS", "RESUME_MISMATCH", "INVALID_REQUEST", "INVALID_ALPHA", "INVALID_BETA",
  "INVALID_GUIDANCE", "UNKNOWN_ADAPTER_TARGET", "SAMPLING_INVALID", "INVALID_PAIR", "INVALID_ADAPTER",
  "INVALID_STOP_STRINGS", "INVALID_MAX_NEW_TOKENS",
]);

/** Engine error names whose every error is bad job input. */
const INVALID_INPUT_NAMES = new Set(["AdapterFileError", "SamplingConfigError", "UnknownTargetError", "StopCriteriaError", "ParetoInputError"]);

/** The payload field an input error is about, by engine code. */
const FIELD_BY_CODE: Readonly<Record<string, string>> = {
  INVALID_ALPHA: "alphas", INVALID_BETA: "beta", INVALID_STOP_STRINGS: "sampling.stop", INVALID_MAX_NEW_TOKENS: "maxTokens",
  UNKNOWN_ADAPTER_TARGET: "targets", NO_TRAINING_PAIRS: "datasets", INVALID_PAIR: "datasets", INVALID_STEP: "gridStep",
  GRID_TOO_LARGE: "gridStep",
};

const SEQUENCE_CODES = new Set(["PROMPT_TOO_LONG", "SEQUENCE_TOO_LONG", "CONTEXT_FULL"]);
const GRAPH_CONTEXT_MESSAGE = /exceeds (the model's )?maxSeqLen|cacheLen must be in/;
const ORT_INDEX_MESSAGE = /indices element out of data bounds/i;

/** What to change when a sequence does not fit the model's context, per job kind. */
const SEQUENCE_ADVICE: Readonly<Record<JobKind, string>> = {
  generate: "shorten the prompt or lower maxTokens: the prompt and maxTokens new tokens must fit the models' context",
  evaluate: "lower maxPromptTokens (null: the context minus maxTokens) or maxTokens so that prompt and answer fit the models' context",
  train: "lower maxLength (and maxPromptLength) to at most the model's context",
  "train-evaluator": "lower maxLength to at most the model's context",
};

/** The payload field holding the adapter, per job kind (train builds one from r1, r2 and targets, which the
 *  engine's message names). */
const ADAPTER_FIELD: Readonly<Record<JobKind, string | undefined>> = { generate: "arm", evaluate: "adapter", train: undefined, "train-evaluator": undefined };

const ANY_KIND_SEQUENCE_ADVICE =
  "make the input fit the model's context (generate: shorten the prompt or lower maxTokens; evaluate: lower maxPromptTokens or maxTokens; train: lower maxLength and maxPromptLength; train-evaluator: lower maxLength)";

const MODEL_NAMES = new Set(["GgufError", "HfModelError", "ModelWeightsError", "SafetensorsError"]);

/** Classifies a job's error. With the job's `kind`, a sequence-length reason names that kind's fields to change;
 *  without it, the fields of every kind. */
export function classifyFailure(error: unknown, kind?: JobKind): ClassifiedFailure {
  if (error instanceof JobFailureError) return { code: error.code, reason: error.reason, retryable: error.retryable };
  if (error instanceof ContractValidationError) return { code: "INVALID_PAYLOAD", reason: error.message, retryable: false };
  if (error instanceof TaskFailedError) return classifyEngineFailure(error.info, kind);
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { code: "INTERNAL", reason: message, retryable: true };
}

function classifyEngineFailure(info: TaskErrorInfo, kind: JobKind | undefined): ClassifiedFailure {
  const { name, code, message } = info;
  const fail = (failure: JobFailureCode, reason: string, retryable = false): ClassifiedFailure => ({ code: failure, reason, retryable });
  if (code === "CANCELLED") return fail("CANCELLED", message);
  if (code === "NON_FINITE_LOSS") return fail("NUMERICAL_DIVERGENCE", `${message}; lower the learning rate or raise betaR`);
  if (isNonFiniteOutput(info)) return fail("NUMERICAL_DIVERGENCE", `${message}; the model or adapter produces non-finite logits (retrain the adapter with a lower learning rate)`);
  if (name === "VocabularyMismatchError") return fail("VOCABULARY_MISMATCH", `${message}; use a base model and ARM with the same tokenizer`);
  if (isOutOfMemory(info)) return fail("OUT_OF_MEMORY", `${message}; use a smaller batchSize or maxLength, or a runner with more memory`, true);
  if (isSequenceTooLong(info)) return fail("INVALID_PAYLOAD", sequenceReason(info, kind));
  if (isModelFileError(info)) return fail("MODEL_UNAVAILABLE", `the model file cannot be loaded: ${message}`);
  if (name === "EvaluatorFileError" || (name === "EvaluatorError" && code === "INVALID_MODEL")) {
    return fail("MODEL_UNAVAILABLE", `${message}; use an EVALUATOR trained with trainEvaluator on this base model, or an ONNX reward model`);
  }
  if (isInvalidInput(info)) return fail("INVALID_PAYLOAD", withField(info, kind));
  return fail("INTERNAL", `${name}: ${message}`, true);
}

function isNonFiniteOutput({ name, code }: TaskErrorInfo): boolean {
  return (name === "SamplingConfigError" && code === "INVALID_ROW") || (name === "GuidanceInputError" && (code === "NON_FINITE_LOGIT" || code === "NO_FINITE_LOGIT"));
}

function isOutOfMemory({ code, message }: TaskErrorInfo): boolean {
  return code === "ERR_WORKER_OUT_OF_MEMORY" || /out of memory|allocation failed|failed to allocate|bad_alloc/i.test(message);
}

/** A sequence longer than a model's context (or a position beyond it), however the engine noticed. */
function isSequenceTooLong({ name, code, message }: TaskErrorInfo): boolean {
  if (code !== null && SEQUENCE_CODES.has(code)) return true;
  if (name === "GraphShapeError" && GRAPH_CONTEXT_MESSAGE.test(message)) return true;
  return ORT_INDEX_MESSAGE.test(message);
}

/** `<tag>: <engine message>; <what to change>`; the tag is the engine's code (PROMPT_TOO_LONG, …) or
 *  SEQUENCE_TOO_LONG when onnxruntime or a graph builder noticed. */
function sequenceReason({ code, message }: TaskErrorInfo, kind: JobKind | undefined): string {
  const tag = code !== null && SEQUENCE_CODES.has(code) ? code : "SEQUENCE_TOO_LONG";
  return `${tag}: ${message}; ${kind ? SEQUENCE_ADVICE[kind] : ANY_KIND_SEQUENCE_ADVICE}`;
}

function isModelFileError({ name, code }: TaskErrorInfo): boolean {
  if (MODEL_NAMES.has(name) || /^(GGUF|SAFETENSORS)_/.test(code ?? "")) return true;
  return name === "TokenizerError" && (code === "INVALID_VOCABULARY" || code === "UNSUPPORTED_TOKENIZER");
}

function isInvalidInput({ name, code }: TaskErrorInfo): boolean {
  return (code !== null && INVALID_INPUT_CODES.has(code)) || INVALID_INPUT_NAMES.has(name) || name.endsWith("SpecError");
}

/** The message, prefixed with the payload field it is about when the error identifies one. */
function withField({ name, code, message }: TaskErrorInfo, kind: JobKind | undefined): string {
  const field =
    name === "AdapterFileError" || name.endsWith("SpecError") || code === "INVALID_ADAPTER" || code === "INVALID_GUIDANCE"
      ? ADAPTER_FIELD[kind ?? "train"]
      : name === "SamplingConfigError"
        ? "sampling"
        : FIELD_BY_CODE[code ?? ""];
  return field ? `${field}: ${message}` : message;
}
