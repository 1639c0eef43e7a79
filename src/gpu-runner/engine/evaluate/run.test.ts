/**
 * @module engine/evaluate/run.test
 * The sweep's bookkeeping with a deterministic generator (the response encodes α) and character-counting
 * evaluators: per-α mean reward vectors and standard errors, α chunks (one generator call per prompt and chunk),
 * onPoint streaming order, the report (front, HV against an explicit z, MIP), the SVG, baselines, errors (typed
 * generation errors propagate unchanged), cancellation while generating and while scoring, and the prompt-token
 * limit.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { hypervolume } from "../pareto/index.ts";
import type { Evaluator } from "./evaluator.ts";
import { EvaluationRunError, evaluationPromptLimit, meanAndStandardError, runEvaluation, type BatchGenerate } from "./run.ts";

/** Counts a character in each response (plus the prompt's length · 0 so prompts are passed through). */
function counter(name: string, char: string): Evaluator {
  return {
    name,
    score: async (prompts, responses) => Float64Array.from(responses, (r, i) => [...r].filter((c) => c === char).length + prompts[i].length * 0),
    release: async () => {},
  };
}

/** Response = round(10·α_0) "a"s and round(10·α_1) "b"s, plus one extra "a" for the prompt "long". */
const calls: { prompt: string; alphas: number }[] = [];
const generate: BatchGenerate = async (prompt, alphas) => {
  calls.push({ prompt, alphas: alphas.length });
  return alphas.map((a) => "a".repeat(Math.round(10 * a[0]) + (prompt === "long" ? 1 : 0)) + "b".repeat(Math.round(10 * a[1])));
};

test("runEvaluation: mean rewards per α, chunks, streaming, report and plot", async () => {
  calls.length = 0;
  const streamed: string[] = [];
  const result = await runEvaluation({
    step: 0.5,
    prompts: ["short", "long"],
    generate,
    evaluators: [counter("a-count", "a"), counter("b-count", "b")],
    alphaBatch: 2,
    referencePoint: [0, 0],
    baselines: [{ name: "base", rewards: [1, 1] }],
    onPoint: (p, done, total) => void streamed.push(`${done}/${total}:${p.alpha.join(",")}`),
  });
  assert.deepEqual(streamed, ["1/3:0,1", "2/3:0.5,0.5", "3/3:1,0"]);
  assert.deepEqual(calls, [{ prompt: "short", alphas: 2 }, { prompt: "long", alphas: 2 }, { prompt: "short", alphas: 1 }, { prompt: "long", alphas: 1 }]);
  const [p0, p1, p2] = result.points;
  assert.deepEqual(p0.rewards, [0.5, 10]);
  assert.deepEqual(p1.rewards, [5.5, 5]);
  assert.deepEqual(p2.rewards, [10.5, 0]);
  assert.deepEqual(p1.perPrompt, [[5, 5], [6, 5]]);
  assert.ok(Math.abs(p1.standardErrors[0] - 0.5) < 1e-12 && p1.standardErrors[1] === 0);
  assert.deepEqual(p2.responses, ["aaaaaaaaaa", "aaaaaaaaaaa"]);
  const { report } = result;
  assert.deepEqual(report.objectiveNames, ["a-count", "b-count"]);
  assert.deepEqual(report.front, [0, 1, 2]);
  assert.deepEqual(report.referencePoint, [0, 0]);
  assert.equal(report.hypervolume, hypervolume([[0.5, 10], [5.5, 5], [10.5, 0]], [0, 0]));
  assert.ok(Math.abs(report.mip - (10 + (0.5 * 5.5 + 0.5 * 5) + 10.5) / 3) < 1e-12);
  assert.equal(report.baselines[0].name, "base");
  assert.ok(report.baselines[0].points[0].dominatedByFront);
  assert.match(result.svg, /^<svg/);
  for (const label of ["(0, 1)", "(0.5, 0.5)", "(1, 0)", "base"]) assert.ok(result.svg.includes(label), label);
});

test("runEvaluation: explicit alphas and objective names; one generator call per prompt by default", async () => {
  calls.length = 0;
  const result = await runEvaluation({
    alphas: [[0.2, 0.8], [0.7, 0.3]],
    prompts: ["p"],
    generate,
    evaluators: [counter("x", "a"), counter("y", "b")],
    objectiveNames: ["helpful", "harmless"],
  });
  assert.equal(calls.length, 1);
  assert.deepEqual(result.report.objectiveNames, ["helpful", "harmless"]);
  assert.deepEqual(result.points.map((p) => p.rewards), [[2, 8], [7, 3]]);
});

test("runEvaluation: bad options and failures raise EvaluationRunError naming the problem", async () => {
  const evaluators = [counter("x", "a"), counter("y", "b")];
  const code = (c: string, pattern: RegExp) => (e: unknown) => e instanceof EvaluationRunError && e.code === c && pattern.test((e as Error).message);
  await assert.rejects(runEvaluation({ prompts: ["p"], generate, evaluators }), code("INVALID_OPTIONS", /grid step or explicit alphas/));
  await assert.rejects(runEvaluation({ step: 0.5, prompts: [], generate, evaluators }), code("INVALID_OPTIONS", /at least one prompt/));
  await assert.rejects(runEvaluation({ step: 0.5, prompts: ["p"], generate, evaluators: [] }), code("INVALID_OPTIONS", /one evaluator per objective/));
  await assert.rejects(runEvaluation({ alphas: [[0.5, 0.6]], prompts: ["p"], generate, evaluators }), /alphas\[0\]/);
  await assert.rejects(runEvaluation({ step: 0.5, prompts: ["p"], generate: async () => ["only one"], evaluators }), code("GENERATION_FAILED", /1 responses for 3 preference vectors/));
  await assert.rejects(runEvaluation({ step: 0.5, prompts: ["p"], generate: async () => { throw new Error("boom"); }, evaluators }), code("GENERATION_FAILED", /boom/));
  const typed = Object.assign(new Error("the prompt has 600 tokens"), { name: "GenerateRequestError", code: "PROMPT_TOO_LONG" });
  await assert.rejects(runEvaluation({ step: 0.5, prompts: ["p"], generate: async () => { throw typed; }, evaluators }), (e: unknown) => e === typed, "a typed error keeps its class and code");
  const nan: Evaluator = { name: "nan", score: async (p) => new Float64Array(p.length).fill(NaN), release: async () => {} };
  await assert.rejects(runEvaluation({ step: 0.5, prompts: ["p"], generate, evaluators: [nan, nan] }), code("INVALID_OPTIONS", /evaluator nan scored response 0 as NaN/));
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(runEvaluation({ step: 0.5, prompts: ["p"], generate, evaluators, signal: controller.signal }), code("CANCELLED", /while generating \(prompt 1 of 1, points 1–3 of 3\); 0 points done/));
});

test("runEvaluation: an abort stops the sweep while generating or while scoring, naming the phase", async () => {
  const evaluators = [counter("a-count", "a"), counter("b-count", "b")];
  const code = (pattern: RegExp) => (e: unknown) => e instanceof EvaluationRunError && e.code === "CANCELLED" && pattern.test(e.message);
  // While generating: the generator sees the abort (as decode's generate does at its next token) and throws.
  const generating = new AbortController();
  const abortingGenerate: BatchGenerate = async (prompt, alphas) => {
    if (prompt === "second") {
      generating.abort("cancel");
      throw Object.assign(new Error("generation cancelled between tokens"), { code: "CANCELLED" });
    }
    return generate(prompt, alphas);
  };
  await assert.rejects(
    runEvaluation({ step: 0.25, prompts: ["first", "second", "third"], generate: abortingGenerate, evaluators, alphaBatch: 2, signal: generating.signal }),
    code(/while generating \(prompt 2 of 3, points 1–2 of 5\); 0 points done/),
  );
  // While scoring: the abort lands inside an evaluator's score call; the sweep stops before the next point.
  const scoring = new AbortController();
  let scored = 0;
  const slow: Evaluator = {
    name: "slow",
    score: async (prompts, _responses, signal) => {
      if (++scored === 3) scoring.abort("cancel");
      if (signal?.aborted) throw Object.assign(new Error("scoring cancelled"), { code: "CANCELLED" });
      return new Float64Array(prompts.length);
    },
    release: async () => {},
  };
  const points: number[] = [];
  await assert.rejects(
    runEvaluation({ step: 0.25, prompts: ["p"], generate, evaluators: [slow, slow], signal: scoring.signal, onPoint: (p) => void points.push(p.index) }),
    code(/while scoring point 2 of 5; 1 points done/),
  );
  assert.deepEqual(points, [0], "points scored before the abort were reported");
});

test("meanAndStandardError: column means and sample standard errors", () => {
  const { mean, se } = meanAndStandardError([[1, 2], [3, 2], [5, 2]], 2);
  assert.deepEqual(mean, [3, 2]);
  assert.ok(Math.abs(se[0] - 2 / Math.sqrt(3)) < 1e-12);
  assert.equal(se[1], 0);
});

test("evaluationPromptLimit: maxPromptTokens when given (below the context), else context − maxTokens", () => {
  assert.equal(evaluationPromptLimit({ context: 512, maxTokens: 64, maxPromptTokens: null }), 448);
  assert.equal(evaluationPromptLimit({ context: 512, maxTokens: 64, maxPromptTokens: 100 }), 100);
  assert.equal(evaluationPromptLimit({ context: 512, maxTokens: 600, maxPromptTokens: 500 }), 500);
  const invalid = (pattern: RegExp) => (e: unknown) => e instanceof EvaluationRunError && e.code === "INVALID_OPTIONS" && pattern.test(e.message);
  assert.throws(() => evaluationPromptLimit({ context: 512, maxTokens: 64, maxPromptTokens: 512 }), invalid(/maxPromptTokens must be an integer in \[1, 511\]/));
  assert.throws(() => evaluationPromptLimit({ context: 512, maxTokens: 512, maxPromptTokens: null }), invalid(/maxTokens 512 leaves no room/));
});
