/**
 * @module gpu-runner/runner/failures — maps whatever a job threw to the contract's failure code, a reason the user
 * can act on, and whether another attempt may succeed. Handler-made JobFailureErrors pass through; engine errors
 * arrive from the worker as TaskFailedError with the engine's error name and code.
 */
import { ContractValidationError, type JobFailureCode } from "../../contracts/index.ts";
import { JobFailureError } from "../handlers/index.ts";
import { TaskFailedError } from "../worker/index.ts";

export interface ClassifiedFailure {
  readonly code: JobFailureCode;
  readonly reason: string;
  readonly retryable: boolean;
}

const INVALID_INPUT_CODES = new Set([
  "INVALID_OPTIONS", "NO_TRAINING_PAIRS", "RESUME_MISMATCH", "INVALID_REQUEST", "INVALID_ALPHA", "INVALID_BETA",
  "INVALID_GUIDANCE", "PROMPT_TOO_LONG", "UNKNOWN_ADAPTER_TARGET", "INVALID_CONFIG", "SAMPLING_INVALID",
]);

export function classifyFailure(error: unknown): ClassifiedFailure {
  if (error instanceof JobFailureError) return { code: error.code, reason: error.reason, retryable: error.retryable };
  if (error instanceof ContractValidationError) return { code: "INVALID_PAYLOAD", reason: error.message, retryable: false };
  if (error instanceof TaskFailedError) {
    const { name, code, message } = error.info;
    if (code === "CANCELLED") return { code: "CANCELLED", reason: message, retryable: false };
    if (code === "NON_FINITE_LOSS") return { code: "NUMERICAL_DIVERGENCE", reason: `${message}; lower the learning rate or raise betaR`, retryable: false };
    if (name === "VocabularyMismatchError") return { code: "VOCABULARY_MISMATCH", reason: `${message}; use a base model and ARM with the same tokenizer`, retryable: false };
    if (code !== null && INVALID_INPUT_CODES.has(code)) return { code: "INVALID_PAYLOAD", reason: message, retryable: false };
    if (name.endsWith("SpecError") || name === "AdapterFileError" || name === "SamplingConfigError" || name === "UnknownTargetError") {
      return { code: "INVALID_PAYLOAD", reason: message, retryable: false };
    }
    if (code === "ERR_WORKER_OUT_OF_MEMORY" || /out of memory|allocation failed|bad_alloc/i.test(message)) {
      return { code: "OUT_OF_MEMORY", reason: `${message}; use a smaller batchSize or maxLength, or a runner with more memory`, retryable: true };
    }
    if (name === "EvaluatorFileError" || (name === "EvaluatorError" && code === "INVALID_MODEL")) {
      return { code: "MODEL_UNAVAILABLE", reason: `${message}; use an EVALUATOR trained with trainEvaluator on this base model, or an ONNX reward model`, retryable: false };
    }
    if (name === "GgufError" || name === "HfModelError" || name === "ModelWeightsError" || /^(GGUF|SAFETENSORS)_/.test(code ?? "")) {
      return { code: "MODEL_UNAVAILABLE", reason: `the model file cannot be loaded: ${message}`, retryable: false };
    }
    return { code: "INTERNAL", reason: `${name}: ${message}`, retryable: true };
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { code: "INTERNAL", reason: message, retryable: true };
}
