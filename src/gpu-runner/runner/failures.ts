/**
 * @module gpu-runner/runner/failures — maps whatever a job threw to the contract's failure code, a reason the user
 * can act on, and whether another attempt may succeed. Handler-made JobFailureErrors pass through; engine errors
 * arrive from the worker as TaskFailedError with the engine's error name, code, message and category
 * (engine/util/errors.ts), and the category alone decides the failure code:
 *
 * Contract: an error the engine raises deterministically from the job's input is never retryable (a redelivery
 * would fail the same way, max_deliver times over):
 * - "context-exceeded" (a prompt, sequence or position beyond the model's context) → INVALID_PAYLOAD, the reason
 *   tagged with the engine code when it is one of PROMPT_TOO_LONG, SEQUENCE_TOO_LONG, CONTEXT_FULL (else
 *   SEQUENCE_TOO_LONG) and naming the payload fields of the job's kind to change (generate: prompt / maxTokens;
 *   evaluate: maxPromptTokens / maxTokens; train: maxLength / maxPromptLength; train-evaluator: maxLength);
 * - "invalid-input" (options, pairs, α, β, sampling, stop strings, adapter targets, adapter files, grid) →
 *   INVALID_PAYLOAD, the reason prefixed with the payload field when the code identifies one (`alphas: …`);
 * - "model-unavailable" / "evaluator-unavailable" (unreadable model, tokenizer or evaluator files, a bad model
 *   config) → MODEL_UNAVAILABLE;
 * - "cancelled" → CANCELLED, "vocabulary-mismatch" → VOCABULARY_MISMATCH, "diverged" (a non-finite training loss
 *   or non-finite logits while decoding) → NUMERICAL_DIVERGENCE.
 * Only "resource" (OUT_OF_MEMORY) and "internal" (INTERNAL) are retryable.
 */
import { ContractValidationError, UnreachableCaseError, type JobFailureCode, type JobKind } from "../../contracts/index.ts";
import { JobFailureError } from "../handlers/index.ts";
import { TaskFailedError, type TaskErrorInfo } from "../worker/index.ts";

export interface ClassifiedFailure {
  readonly code: JobFailureCode;
  readonly reason: string;
  readonly retryable: boolean;
}

/** The payload field an invalid-input error is about, by engine code; "adapter" is the kind's adapter field. The
 *  adapter codes are AdapterFileError's, AdapterSpecError's and the decoder's. */
const FIELD_BY_CODE: Readonly<Record<string, string>> = {
  INVALID_ALPHA: "alphas", INVALID_BETA: "beta", INVALID_STOP_STRINGS: "sampling.stop", INVALID_MAX_NEW_TOKENS: "maxTokens",
  UNKNOWN_ADAPTER_TARGET: "targets", NO_TRAINING_PAIRS: "datasets", INVALID_PAIR: "datasets", INVALID_STEP: "gridStep",
  GRID_TOO_LARGE: "gridStep", INVALID_SAMPLING_CONFIG: "sampling", INVALID_SEED: "sampling",
  INVALID_ADAPTER: "adapter", INVALID_GUIDANCE: "adapter", ADAPTER_SPEC_INVALID: "adapter", NOT_AN_ADAPTER: "adapter",
  INVALID_METADATA: "adapter", INVALID_TENSORS: "adapter", BASE_MODEL_MISMATCH: "adapter", UNSUPPORTED_VERSION: "adapter",
};

/** Engine codes that tag a context-exceeded reason; others are tagged SEQUENCE_TOO_LONG. */
const SEQUENCE_CODES = new Set(["PROMPT_TOO_LONG", "SEQUENCE_TOO_LONG", "CONTEXT_FULL"]);

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
  const { name, code, message, category } = info;
  const fail = (failure: JobFailureCode, reason: string, retryable = false): ClassifiedFailure => ({ code: failure, reason, retryable });
  switch (category) {
    case "cancelled":
      return fail("CANCELLED", message);
    case "diverged":
      return fail("NUMERICAL_DIVERGENCE", code === "NON_FINITE_LOSS" ? `${message}; lower the learning rate or raise betaR` : `${message}; the model or adapter produces non-finite logits (retrain the adapter with a lower learning rate)`);
    case "vocabulary-mismatch":
      return fail("VOCABULARY_MISMATCH", `${message}; use a base model and ARM with the same tokenizer`);
    case "resource":
      return fail("OUT_OF_MEMORY", `${message}; use a smaller batchSize or maxLength, or a runner with more memory`, true);
    case "context-exceeded":
      return fail("INVALID_PAYLOAD", sequenceReason(info, kind));
    case "model-unavailable":
      return fail("MODEL_UNAVAILABLE", `the model file cannot be loaded: ${message}`);
    case "evaluator-unavailable":
      return fail("MODEL_UNAVAILABLE", `${message}; use an EVALUATOR trained with trainEvaluator on this base model, or an ONNX reward model`);
    case "invalid-input":
      return fail("INVALID_PAYLOAD", withField(info, kind));
    case "internal":
      return fail("INTERNAL", `${name}: ${message}`, true);
    default:
      throw new UnreachableCaseError(category);
  }
}

/** `<tag>: <engine message>; <what to change>`; the tag is the engine's code (PROMPT_TOO_LONG, …) or
 *  SEQUENCE_TOO_LONG when onnxruntime or a graph builder noticed. */
function sequenceReason({ code, message }: TaskErrorInfo, kind: JobKind | undefined): string {
  const tag = code !== null && SEQUENCE_CODES.has(code) ? code : "SEQUENCE_TOO_LONG";
  return `${tag}: ${message}; ${kind ? SEQUENCE_ADVICE[kind] : ANY_KIND_SEQUENCE_ADVICE}`;
}

/** The message, prefixed with the payload field it is about when the code identifies one. */
function withField({ code, message }: TaskErrorInfo, kind: JobKind | undefined): string {
  const byCode = FIELD_BY_CODE[code ?? ""];
  const field = byCode === "adapter" ? ADAPTER_FIELD[kind ?? "train"] : byCode;
  return field ? `${field}: ${message}` : message;
}
