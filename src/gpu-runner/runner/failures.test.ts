import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ContractValidationError } from "../../contracts/index.ts";
import { JobFailureError } from "../handlers/index.ts";
import { TaskFailedError } from "../worker/index.ts";
import { classifyFailure } from "./failures.ts";

const task = (name: string, code: string | null, message = "boom") => new TaskFailedError({ name, code, message });

describe("classifyFailure", () => {
  it("passes handler failures through", () => {
    assert.deepEqual(classifyFailure(new JobFailureError("DATASET_UNAVAILABLE", "gone", true)), { code: "DATASET_UNAVAILABLE", reason: "gone", retryable: true });
  });
  it("maps engine errors to codes a user can act on", () => {
    assert.equal(classifyFailure(task("TrainerError", "CANCELLED")).code, "CANCELLED");
    const diverged = classifyFailure(task("TrainerError", "NON_FINITE_LOSS", "loss is NaN"));
    assert.deepEqual([diverged.code, diverged.retryable], ["NUMERICAL_DIVERGENCE", false]);
    assert.match(diverged.reason, /lower the learning rate/);
    assert.equal(classifyFailure(task("VocabularyMismatchError", "VOCABULARY_MISMATCH")).code, "VOCABULARY_MISMATCH");
    assert.deepEqual(classifyFailure(task("TrainerError", "INVALID_OPTIONS")).code, "INVALID_PAYLOAD");
    assert.deepEqual(classifyFailure(task("GenerateRequestError", "PROMPT_TOO_LONG")).retryable, false);
    assert.equal(classifyFailure(task("RangeError", null, "Array buffer allocation failed")).code, "OUT_OF_MEMORY");
    assert.deepEqual(classifyFailure(new ContractValidationError("JobEnvelope", [])).code, "INVALID_PAYLOAD");
    assert.deepEqual(classifyFailure(task("EvaluatorFileError", "NOT_AN_EVALUATOR")).retryable, false);
  });
  it("treats anything else as a retryable internal failure that names the error", () => {
    const c = classifyFailure(task("SessionRunError", "SESSION_RUN_FAILED", "kernel failed"));
    assert.deepEqual(c, { code: "INTERNAL", reason: "SessionRunError: kernel failed", retryable: true });
    assert.deepEqual(classifyFailure(new TypeError("x")), { code: "INTERNAL", reason: "TypeError: x", retryable: true });
  });
});
