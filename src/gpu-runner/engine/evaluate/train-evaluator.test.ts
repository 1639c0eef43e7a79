/**
 * @module engine/evaluate/train-evaluator.test
 * Evaluator training on a learnable synthetic task (the preferred response ends in "!"): held-out accuracy rises
 * from chance to near 1 with either pooling, the run is reproducible from its seed, the file round-trips (metadata
 * with its pooling, tensors, scores; a file without pooling reads as "last"), and bad options and files raise typed
 * errors naming the problem.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseSafetensors, writeSafetensors } from "../model/safetensors.ts";
import { TrainerError } from "../train/trainer-data.ts";
import { EvaluatorError, RewardModelEvaluator } from "./evaluator.ts";
import { EvaluatorFileError, exportRewardModel, importRewardModel, tokenizeForReward, type RewardModel } from "./reward-model.ts";
import { trainEvaluator, type TrainEvaluatorResult } from "./train-evaluator.ts";
import { exclamationPairs, tinyCharModel } from "./test-fixtures.ts";

const model = tinyCharModel();
const options = {
  model,
  dimension: "excited",
  pairs: exclamationPairs(96, 1),
  validationPairs: exclamationPairs(48, 2),
  maxLength: 24,
  lengthBuckets: [24],
  epochs: 3,
  batchPairs: 8,
  lr: 2e-2,
  rank: 4,
  loraAlpha: 8,
  seed: 5,
  threads: 1,
} as const;

/** Accuracy of a loaded evaluator on the validation pairs, scored through RewardModelEvaluator. */
async function heldOutAccuracyOf(loaded: RewardModel): Promise<number> {
  const evaluator = new RewardModelEvaluator({ backbone: model, model: loaded, threads: 1 });
  const pairs = options.validationPairs;
  const scores = await evaluator.score([...pairs.map((p) => p.prompt), ...pairs.map((p) => p.prompt)], [...pairs.map((p) => p.responses[0]), ...pairs.map((p) => p.responses[1])]);
  await evaluator.release();
  let correct = 0;
  pairs.forEach((p, i) => {
    const margin = scores[i] - scores[pairs.length + i];
    if ((p.preferred[0] === 0 ? margin : -margin) > 0) correct++;
  });
  return correct / pairs.length;
}

describe("trainEvaluator on the '!' task (tiny random backbone)", () => {
  let result: TrainEvaluatorResult;

  before(async () => {
    result = await trainEvaluator(options);
  });

  test("held-out accuracy rises from chance to ≥ 0.9 and the loss falls", () => {
    const { heldOutBefore, heldOutAfter } = result.metrics;
    assert.ok(heldOutBefore && heldOutAfter);
    assert.equal(heldOutAfter.pairs, 48);
    assert.ok(heldOutBefore.accuracy < 0.75, `before ${heldOutBefore.accuracy}`);
    assert.ok(heldOutAfter.accuracy >= 0.9, `after ${heldOutAfter.accuracy}`);
    assert.ok(heldOutAfter.loss < heldOutBefore.loss - 0.1, `loss ${heldOutBefore.loss} → ${heldOutAfter.loss}`);
    assert.equal(result.metrics.steps, 3 * 12);
    assert.equal(result.model.metadata.heldOutAccuracy, heldOutAfter.accuracy);
  });

  test("the same seed reproduces the run bit for bit", async () => {
    const again = await trainEvaluator({ ...options, validationPairs: [] });
    for (const [name, data] of result.model.tensors) assert.deepEqual(again.model.tensors.get(name), data, name);
  });

  test("the file round-trips and the loaded evaluator ranks held-out pairs like the training report", async () => {
    const bytes = exportRewardModel(result.model, model.config);
    const loaded = importRewardModel(bytes, { config: model.config, baseModelDigest: model.source.sha256, dimension: "excited" });
    assert.deepEqual(loaded.metadata, result.model.metadata);
    for (const [name, data] of result.model.tensors) assert.deepEqual(loaded.tensors.get(name), data);
    assert.equal(await heldOutAccuracyOf(loaded), result.metrics.heldOutAfter!.accuracy);
  });

  test("an evaluator whose maxLength exceeds the backbone's context is INVALID_MODEL", () => {
    const tooLong: RewardModel = { ...result.model, metadata: { ...result.model.metadata, maxLength: model.config.maxSeqLen + 1 } };
    assert.throws(() => new RewardModelEvaluator({ backbone: model, model: tooLong }), (e: unknown) => e instanceof EvaluatorError && e.code === "INVALID_MODEL" && /more than the backbone's context/.test(e.message));
  });

  test("bad files raise EvaluatorFileError with a code", () => {
    const bytes = exportRewardModel(result.model, model.config);
    const code = (c: string) => (e: unknown) => e instanceof EvaluatorFileError && e.code === c;
    assert.throws(() => importRewardModel(bytes, { baseModelDigest: "cd".repeat(32) }), code("BASE_MODEL_MISMATCH"));
    assert.throws(() => importRewardModel(bytes, { dimension: "calm" }), code("INVALID_METADATA"));
    assert.throws(() => importRewardModel(new Uint8Array([1, 2, 3])), code("NOT_AN_EVALUATOR"));
    const missing = new Map(result.model.tensors);
    missing.delete("score.weight");
    assert.throws(() => exportRewardModel({ ...result.model, tensors: missing }, model.config), (e: unknown) => code("INVALID_TENSORS")(e) && /score\.weight/.test((e as Error).message));
    assert.throws(() => exportRewardModel({ ...result.model, metadata: { ...result.model.metadata, maxPromptLength: 99 } }), code("INVALID_METADATA"));
  });
});

describe("trainEvaluator with pooling \"mean\" on the '!' task", () => {
  let result: TrainEvaluatorResult;

  before(async () => {
    result = await trainEvaluator({ ...options, pooling: "mean" });
  });

  test("held-out accuracy rises to ≥ 0.9, and the model differs from the last-token one", async () => {
    const { heldOutBefore, heldOutAfter } = result.metrics;
    assert.ok(heldOutBefore && heldOutAfter);
    assert.ok(heldOutAfter.accuracy >= 0.9, `after ${heldOutAfter.accuracy}`);
    assert.ok(heldOutAfter.loss < heldOutBefore.loss - 0.1, `loss ${heldOutBefore.loss} → ${heldOutAfter.loss}`);
    assert.equal(result.model.metadata.pooling, "mean");
    const last = await trainEvaluator({ ...options, validationPairs: [] });
    assert.equal(last.model.metadata.pooling, "last");
    assert.notDeepEqual(last.model.tensors.get("score.weight"), result.model.tensors.get("score.weight"));
  });

  test("the file keeps the pooling, and the loaded evaluator scores with it", async () => {
    const bytes = exportRewardModel(result.model, model.config);
    const loaded = importRewardModel(bytes, { config: model.config });
    assert.equal(loaded.metadata.pooling, "mean");
    assert.equal(await heldOutAccuracyOf(loaded), result.metrics.heldOutAfter!.accuracy);
  });

  test("a file written before pooling existed (no pooling metadata) reads as \"last\"; an unknown pooling is refused", () => {
    const { tensors, metadata } = parseSafetensors(exportRewardModel(result.model, model.config));
    const { pooling: _pooling, ...legacy } = metadata;
    assert.equal(importRewardModel(writeSafetensors(tensors, { metadata: legacy })).metadata.pooling, "last");
    assert.throws(
      () => importRewardModel(writeSafetensors(tensors, { metadata: { ...legacy, pooling: "max" } })),
      (e: unknown) => e instanceof EvaluatorFileError && e.code === "INVALID_METADATA" && /pooling must be one of last, mean/.test((e as Error).message),
    );
  });
});

test("tokenizeForReward: BOS + prompt + response + EOS, the prompt cut from the left to fit; responseStart marks the response", () => {
  const row = tokenizeForReward(model.tokenizer, "ab", " c", { maxLength: 10, maxPromptLength: 5 });
  assert.deepEqual(row.ids, [1, ...model.tokenizer.encode("ab c", { bos: false }), 2]);
  assert.equal(row.responseStart, 1 + model.tokenizer.encode("ab", { bos: false }).length);
  const cut = tokenizeForReward(model.tokenizer, "abcdefgh", " z", { maxLength: 8, maxPromptLength: 4 });
  assert.deepEqual(cut.ids, [1, ...model.tokenizer.encode("fgh z", { bos: false }), 2]);
});

test("trainEvaluator rejects bad options with TrainerError INVALID_OPTIONS naming the option", async () => {
  const reject = (overrides: object, pattern: RegExp) =>
    assert.rejects(trainEvaluator({ ...options, ...overrides }), (e: unknown) => e instanceof TrainerError && e.code === "INVALID_OPTIONS" && pattern.test((e as Error).message));
  await reject({ dimension: "" }, /dimension/);
  await reject({ maxLength: 100 }, /exceeds the model's context/);
  await reject({ pairs: [{ prompt: "a", responses: ["b", "c"], preferred: [0, 1] }] }, /exactly one label/);
  await reject({ lr: -1 }, /lr must be positive/);
  await reject({ rank: 0 }, /rank/);
  await reject({ pooling: "max" }, /pooling must be one of last, mean/);
});
