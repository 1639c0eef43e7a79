/**
 * @module engine/evaluate/evaluator.test
 * The external ONNX reward-model evaluator on ONNX files built here (static shapes, so padToLength/fixedBatch are
 * exercised): scores equal the hand-computed function of the tokens and mask, configurable names, left truncation,
 * and typed errors for missing inputs, a bad output shape, unreadable files and mismatched arguments.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GraphBuilder } from "../onnx/index.ts";
import { EvaluatorError, OnnxRewardEvaluator } from "./evaluator.ts";

const tokenizer = { encode: (text: string) => [1, ...[...text].map((c) => c.charCodeAt(0) - 96)] };

/** score = Σ_t mask_t · (ids_t · w) with w = 0.5; output [batch, 1] (or [batch, 2] when `badOutput`). */
function rewardOnnx(batch: number, length: number, names = { ids: "input_ids", mask: "attention_mask", out: "score" }, badOutput = false): Uint8Array {
  const b = new GraphBuilder("external-reward");
  const ids = b.input(names.ids, "int64", [batch, length]);
  const mask = b.input(names.mask, "int64", [batch, length]);
  const weighted = b.mul(b.mul(b.cast(ids, "float32"), b.cast(mask, "float32")), b.scalar(0.5, "float32"));
  const summed = b.reduceSum(weighted, [1], true);
  b.output(badOutput ? b.concat([summed, summed], 1) : summed, names.out);
  return b.serialize().modelBytes;
}

const expected = (text: string, maxLength = Infinity) => {
  let ids = tokenizer.encode(text);
  if (ids.length > maxLength) ids = ids.slice(ids.length - maxLength);
  return ids.reduce((s, id) => s + 0.5 * id, 0);
};

test("ONNX evaluator: scores equal the model's function of the tokens, padded to the static shape", async () => {
  const dir = mkdtempSync(join(tmpdir(), "parm-onnx-eval-"));
  const path = join(dir, "reward.onnx");
  writeFileSync(path, rewardOnnx(2, 8));
  const evaluator = await OnnxRewardEvaluator.create({ name: "sum", model: path, tokenizer, padId: 0, maxLength: 8, padToLength: 8, batch: 2, fixedBatch: true, threads: 1 });
  const prompts = ["ab", "c", "abc"];
  const responses = ["c", "dd", "zzzzzzzzz"];
  const scores = await evaluator.score(prompts, responses);
  assert.equal(scores.length, 3);
  prompts.forEach((p, i) => assert.ok(Math.abs(scores[i] - expected(p + responses[i], 8)) < 1e-5, `row ${i}: ${scores[i]} vs ${expected(p + responses[i], 8)}`));
  assert.ok(scores[2] !== expected(prompts[2] + responses[2]), "the long row was truncated from the left");
  await evaluator.release();
});

test("ONNX evaluator: custom input and output names", async () => {
  const names = { ids: "tokens", mask: "mask", out: "reward" };
  const evaluator = await OnnxRewardEvaluator.create({
    name: "custom", model: rewardOnnx(1, 4, names), tokenizer, padId: 0, maxLength: 4, padToLength: 4, batch: 1, fixedBatch: true,
    inputIdsName: "tokens", attentionMaskName: "mask", outputName: "reward",
  });
  const scores = await evaluator.score(["a", "b"], ["b", "c"]);
  assert.deepEqual(Array.from(scores), [expected("ab"), expected("bc")]);
  await evaluator.release();
});

test("ONNX evaluator: typed errors name the problem", async () => {
  const invalid = (pattern: RegExp) => (e: unknown) => e instanceof EvaluatorError && e.code === "INVALID_MODEL" && pattern.test((e as Error).message);
  await assert.rejects(OnnxRewardEvaluator.create({ name: "x", model: rewardOnnx(1, 4), tokenizer, padId: 0, inputIdsName: "ids" }), invalid(/no input "ids"/));
  await assert.rejects(OnnxRewardEvaluator.create({ name: "x", model: rewardOnnx(1, 4), tokenizer, padId: 0, outputName: "logits" }), invalid(/no output "logits"/));
  await assert.rejects(OnnxRewardEvaluator.create({ name: "x", model: "/nonexistent/reward.onnx", tokenizer, padId: 0 }), invalid(/cannot read/));
  await assert.rejects(OnnxRewardEvaluator.create({ name: "x", model: new Uint8Array([1, 2, 3]), tokenizer, padId: 0 }), invalid(/cannot load/));
  await assert.rejects(OnnxRewardEvaluator.create({ name: "x", model: rewardOnnx(1, 4), tokenizer, padId: 0, maxLength: 8, padToLength: 4 }), invalid(/padToLength/));
  const bad = await OnnxRewardEvaluator.create({ name: "two", model: rewardOnnx(1, 4, undefined, true), tokenizer, padId: 0, maxLength: 4, padToLength: 4, batch: 1, fixedBatch: true });
  await assert.rejects(bad.score(["a"], ["b"]), (e: unknown) => e instanceof EvaluatorError && e.code === "RUN_FAILED" && /one float per row/.test((e as Error).message));
  await assert.rejects(bad.score(["a", "b"], ["c"]), (e: unknown) => e instanceof EvaluatorError && e.code === "INVALID_INPUT" && /2 prompts for 1 responses/.test((e as Error).message));
  await bad.release();
});
