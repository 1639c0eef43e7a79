import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ContractValidationError } from "../../contracts/index.ts";
import { categoryOfCause, decode, evaluate, onnx, SessionRunError, TrainerError } from "../engine/index.ts";
import { KvCacheError } from "../engine/decode/index.ts";
import { buildDecodeStepGraph, buildLogitsGraph } from "../engine/model/index.ts";
import { randomTinyWeights, tinyConfig } from "../engine/model/arm-graph-reference.ts";
import type { ModelWeights } from "../engine/model/config.ts";
import { ModelWeightsError } from "../engine/util/loaded-model.ts";
import { TokenizerError } from "../engine/model/tokenizer.ts";
import { SafetensorsError } from "../engine/model/safetensors.ts";
import { PairError } from "../engine/train/pairs.ts";
import { ParetoInputError } from "../engine/pareto/errors.ts";
import { AdapterSpecError } from "../engine/model/pblora.ts";
import { JobFailureError } from "../handlers/index.ts";
import { UnknownTargetError } from "../handlers/train-data.ts";
import { crashedWorkerInfo, TaskCancelledError, TaskFailedError, taskErrorInfo } from "../worker/index.ts";
import { classifyFailure } from "./failures.ts";

/** An error thrown inside a task as the worker hands it over (engine-worker.ts: name, code, message, category). */
const fromWorker = (error: Error): TaskFailedError => new TaskFailedError(taskErrorInfo(error));

const vocabulary = (role: string, size: number) => ({ role, size, digest: `${role}-digest` });

function thrown(build: () => unknown): Error {
  try {
    build();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a throw");
}

/** A 64-position model: the graph builders refuse longer sequences and caches. */
const config = tinyConfig();
const weights: ModelWeights = new Map(randomTinyWeights(config, onnx.mulberry32(1)));

describe("classifyFailure", () => {
  it("passes handler failures through", () => {
    assert.deepEqual(classifyFailure(new JobFailureError("DATASET_UNAVAILABLE", "gone", true)), { code: "DATASET_UNAVAILABLE", reason: "gone", retryable: true });
  });
  it("maps engine errors to codes a user can act on", () => {
    assert.equal(classifyFailure(fromWorker(new TrainerError("CANCELLED", "boom"))).code, "CANCELLED");
    assert.equal(classifyFailure(new TaskCancelledError("shutdown")).code, "CANCELLED");
    const diverged = classifyFailure(fromWorker(new TrainerError("NON_FINITE_LOSS", "loss is NaN")));
    assert.deepEqual([diverged.code, diverged.retryable], ["NUMERICAL_DIVERGENCE", false]);
    assert.match(diverged.reason, /lower the learning rate/);
    const mismatch = new decode.VocabularyMismatchError("VOCABULARY_MISMATCH", vocabulary("base", 512), vocabulary("arm", 600), "boom");
    assert.equal(classifyFailure(fromWorker(mismatch)).code, "VOCABULARY_MISMATCH");
    assert.deepEqual(classifyFailure(fromWorker(new TrainerError("INVALID_OPTIONS", "boom"))).code, "INVALID_PAYLOAD");
    assert.deepEqual(classifyFailure(fromWorker(new decode.GenerateRequestError("PROMPT_TOO_LONG", "boom"))).retryable, false);
    assert.equal(classifyFailure(fromWorker(new RangeError("Array buffer allocation failed"))).code, "OUT_OF_MEMORY");
    const heap = Object.assign(new Error("Worker terminated due to reaching memory limit: JS heap out of memory"), { code: "ERR_WORKER_OUT_OF_MEMORY" });
    assert.deepEqual([classifyFailure(new TaskFailedError(crashedWorkerInfo(heap))).code, classifyFailure(new TaskFailedError(crashedWorkerInfo(heap))).retryable], ["OUT_OF_MEMORY", true]);
    assert.deepEqual(classifyFailure(new ContractValidationError("JobEnvelope", [])).code, "INVALID_PAYLOAD");
    assert.deepEqual(classifyFailure(fromWorker(new evaluate.EvaluatorFileError("NOT_AN_EVALUATOR", "boom"))).retryable, false);
  });
  it("treats anything else as a retryable internal failure that names the error", () => {
    const c = classifyFailure(fromWorker(new SessionRunError("kernel failed")));
    assert.deepEqual(c, { code: "INTERNAL", reason: "SessionRunError: kernel failed", retryable: true });
    assert.deepEqual(classifyFailure(new TypeError("x")), { code: "INTERNAL", reason: "TypeError: x", retryable: true });
    assert.equal(classifyFailure(fromWorker(new onnx.GraphShapeError("shapes [2,3] and [4,3] do not broadcast"))).code, "INTERNAL");
    assert.equal(classifyFailure(fromWorker(new SessionRunError("session run failed: Failed to allocate memory for requested buffer", { cause: new Error("Failed to allocate memory for requested buffer") }))).code, "OUT_OF_MEMORY");
  });
});

describe("classifyFailure: deterministic input errors are never retried", () => {
  const prompt = new decode.GenerateRequestError("PROMPT_TOO_LONG", "the prompt has 587 tokens; the context holds 512 and generation needs room for at least one more");

  it("a prompt, sequence or position beyond the context is INVALID_PAYLOAD naming the kind's fields", () => {
    const generate = classifyFailure(fromWorker(prompt), "generate");
    assert.deepEqual([generate.code, generate.retryable], ["INVALID_PAYLOAD", false]);
    assert.match(generate.reason, /^PROMPT_TOO_LONG: the prompt has 587 tokens.*; shorten the prompt or lower maxTokens/);
    const noKind = classifyFailure(fromWorker(prompt));
    assert.match(noKind.reason, /generate: shorten the prompt or lower maxTokens; evaluate: lower maxPromptTokens or maxTokens; train: lower maxLength/);
    const cases: [Error, "generate" | "evaluate" | "train" | "train-evaluator", RegExp][] = [
      [new KvCacheError("CONTEXT_FULL", "length 600 exceeds the context of 512 positions"), "evaluate", /maxPromptTokens .* or maxTokens/],
      [new PairError("SEQUENCE_TOO_LONG", "length 700 exceeds the largest bucket 512"), "train", /lower maxLength \(and maxPromptLength\)/],
      [thrown(() => buildLogitsGraph(config, weights, { batch: 1, seqLen: 65, positions: 1, dtype: "float32", weightsAs: "initializers" })), "train-evaluator", /lower maxLength to at most/],
      [thrown(() => buildDecodeStepGraph(config, weights, { batch: 1, cacheLen: 65, dtype: "float32", weightsAs: "initializers" })), "generate", /shorten the prompt/],
    ];
    for (const [error, kind, advice] of cases) {
      const c = classifyFailure(fromWorker(error), kind);
      assert.deepEqual([c.code, c.retryable], ["INVALID_PAYLOAD", false], error.message);
      assert.match(c.reason, advice);
    }
  });

  it("an onnxruntime index error from an over-long sequence is not INTERNAL", () => {
    const ortMessage = "Non-zero status code returned while running Gather node. Name:'Gather_0' Status Message: indices element out of data bounds, idx=600 must be within the inclusive range [-512,511]";
    const cause = new SessionRunError(`session run failed: ${ortMessage}`, { cause: new Error(ortMessage) });
    const c = classifyFailure(fromWorker(cause), "evaluate");
    assert.deepEqual([c.code, c.retryable], ["INVALID_PAYLOAD", false]);
    assert.match(c.reason, /^SEQUENCE_TOO_LONG: session run failed: .*idx=600/);
    // evaluator.ts wraps a failed run in RUN_FAILED with its cause's category
    const runFailed = new evaluate.EvaluatorError("RUN_FAILED", `ONNX evaluator "helpful" failed on rows 0–7: ${cause.message}`, { cause, category: categoryOfCause(cause) });
    const wrapped = classifyFailure(fromWorker(runFailed), "evaluate");
    assert.deepEqual([wrapped.code, wrapped.retryable], ["INVALID_PAYLOAD", false]);
  });

  it("what reached a real evaluation as INTERNAL (a too-long prompt, a bad prompt limit) is now INVALID_PAYLOAD", () => {
    assert.equal(classifyFailure(fromWorker(prompt), "evaluate").code, "INVALID_PAYLOAD");
    let limitError: Error | undefined;
    try {
      evaluate.evaluationPromptLimit({ context: 512, maxTokens: 16, maxPromptTokens: 600 });
    } catch (error) {
      limitError = error as Error;
    }
    const c = classifyFailure(fromWorker(limitError!), "evaluate");
    assert.deepEqual([c.code, c.retryable], ["INVALID_PAYLOAD", false]);
    assert.match(c.reason, /^maxPromptTokens must be an integer in \[1, 511\]/);
  });

  it("bad options and payload values are INVALID_PAYLOAD, prefixed with the payload field when known", () => {
    const cases: [Error, "generate" | "evaluate" | "train" | undefined, RegExp][] = [
      [new UnknownTargetError('unknown adapter target "qkv"'), "train", /^targets: unknown adapter target "qkv"/],
      [new TrainerError("INVALID_OPTIONS", "maxSteps must be an integer ≥ 1, got 0"), "train", /^maxSteps must be/],
      [new decode.GenerateRequestError("INVALID_ALPHA", "alphas[0] must hold 2 weights"), "generate", /^alphas: alphas\[0\]/],
      [new decode.GenerateRequestError("INVALID_BETA", "beta must be > 0"), "generate", /^beta: /],
      [new decode.SamplingConfigError("INVALID_SAMPLING_CONFIG", "topP must be in (0, 1]"), "generate", /^sampling: topP/],
      [new decode.StopCriteriaError("INVALID_STOP_STRINGS", "stop strings must be non-empty"), "generate", /^sampling\.stop: /],
      [new decode.DecoderInputError("INVALID_ADAPTER", 'adapter tensor "x" is missing'), "generate", /^arm: adapter tensor/],
      [new decode.DecoderInputError("INVALID_ADAPTER", 'adapter tensor "x" is missing'), "evaluate", /^adapter: adapter tensor/],
      [new AdapterSpecError("r2 must be ≥ 1"), "train", /^r2 must be/],
      [new PairError("INVALID_PAIR", "training pair 3: no objective has a label"), "train", /^datasets: training pair 3/],
      [new ParetoInputError("GRID_TOO_LARGE", "the grid would hold 10^9 points"), "evaluate", /^gridStep: /],
      [new TrainerError("RESUME_MISMATCH", "the checkpoint was made by a different run configuration (differs in: maxSteps)"), "train", /maxSteps/],
    ];
    for (const [error, kind, reason] of cases) {
      const c = classifyFailure(fromWorker(error), kind);
      assert.deepEqual([c.code, c.retryable], ["INVALID_PAYLOAD", false], `${error.name} ${error.message}`);
      assert.match(c.reason, reason);
    }
  });

  it("unreadable model files and bad model configs are MODEL_UNAVAILABLE; non-finite logits NUMERICAL_DIVERGENCE", () => {
    for (const error of [
      new ModelWeightsError("INVALID_CONFIG", "config.headDim (7) must be even for RoPE"),
      new TokenizerError("UNSUPPORTED_TOKENIZER", 'tokenizer.ggml.model "bert" is not supported'),
      new SafetensorsError("BAD_HEADER_JSON", "the header is not JSON"),
    ]) {
      const c = classifyFailure(fromWorker(error), "generate");
      assert.deepEqual([c.code, c.retryable], ["MODEL_UNAVAILABLE", false], error.message);
      assert.match(c.reason, new RegExp(error.message.replace(/[()[\]]/g, ".")));
    }
    const nan = classifyFailure(fromWorker(new decode.SamplingConfigError("INVALID_ROW", "scores[3] is NaN")), "generate");
    assert.deepEqual([nan.code, nan.retryable], ["NUMERICAL_DIVERGENCE", false]);
  });
});
