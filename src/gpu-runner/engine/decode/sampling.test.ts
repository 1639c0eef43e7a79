/** @module engine/decode/sampling.test */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  applyTemperature,
  applyTopK,
  applyTopP,
  argmax,
  sampleFromScores,
  samplingConfigFromOptions,
  SamplingConfigError,
  SeededRandom,
  TemperatureWarper,
  TokenSampler,
  TopKWarper,
  TopPWarper,
  validateSamplingConfig,
  type SamplingConfig,
} from "./sampling.ts";
import { LogitsProcessorList } from "./guidance.ts";

const logsOf = (probabilities: readonly number[]): Float32Array => Float32Array.from(probabilities, Math.log);

function kept(row: Float32Array): number[] {
  return [...row.keys()].filter((i) => row[i] !== -Infinity);
}

/** Pearson χ² of observed counts against expected probabilities. */
function chiSquare(counts: readonly number[], probabilities: readonly number[], n: number): number {
  return counts.reduce((s, c, i) => (probabilities[i] === 0 ? s : s + (c - n * probabilities[i]) ** 2 / (n * probabilities[i])), 0);
}

test("xoshiro128** matches the reference C implementation from state (1, 2, 3, 4)", () => {
  const random = SeededRandom.fromState([1, 2, 3, 4]);
  // Output of Vigna's xoshiro128starstar.c next() from s = {1, 2, 3, 4} (compiled and run to obtain these).
  const reference = [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849];
  assert.deepEqual(
    reference.map(() => random.nextUint32()),
    reference,
  );
});

test("seeds: same seed ⇒ same stream, different seeds differ, state save/restore resumes, 64-bit seeds", () => {
  const a = new SeededRandom(42);
  const b = new SeededRandom(42);
  const streamA = Array.from({ length: 50 }, () => a.nextFloat());
  assert.deepEqual(
    Array.from({ length: 50 }, () => b.nextFloat()),
    streamA,
  );
  assert.ok(streamA.every((u) => u >= 0 && u < 1));
  const seeds = [0, 1, 2, 43, -1, 2 ** 32, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER];
  const firsts = new Set(seeds.map((s) => new SeededRandom(s).nextUint32()));
  assert.equal(firsts.size, seeds.length);
  const c = new SeededRandom(7);
  c.nextUint32();
  const saved = c.state;
  const continued = Array.from({ length: 10 }, () => c.nextUint32());
  const resumed = SeededRandom.fromState(saved);
  assert.deepEqual(
    Array.from({ length: 10 }, () => resumed.nextUint32()),
    continued,
  );
  const mean = Array.from({ length: 20000 }, () => a.nextFloat()).reduce((s, u) => s + u, 0) / 20000;
  assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
  assert.throws(() => new SeededRandom(1.5), (e: unknown) => e instanceof SamplingConfigError && e.code === "INVALID_SEED");
  assert.throws(() => SeededRandom.fromState([0, 0, 0, 0]), /all-zero/);
  assert.throws(() => SeededRandom.fromState([1, 2, 3] as never), /four integers/);
});

test("argmax: ties → lowest id; −∞ ignored", () => {
  assert.equal(argmax(Float32Array.from([1, 3, 3, 2])), 1);
  assert.equal(argmax(Float32Array.from([-Infinity, -5, -Infinity])), 1);
  assert.equal(argmax(Float32Array.from([7])), 0);
  assert.throws(() => argmax(Float32Array.from([-Infinity])), /every score is −∞/);
  assert.throws(() => argmax(Float32Array.from([0, NaN])), /scores\[1\] is NaN/);
});

test("top-k masks exactly (ties with the k-th score are kept, as HF)", () => {
  assert.deepEqual(kept(applyTopK(Float32Array.from([1, 5, 3, 5, 2]), 2)), [1, 3]);
  assert.deepEqual(kept(applyTopK(Float32Array.from([1, 5, 3, 5, 2]), 3)), [1, 2, 3]);
  assert.deepEqual(kept(applyTopK(Float32Array.from([3, 3, 1]), 1)), [0, 1]);
  assert.deepEqual(kept(applyTopK(Float32Array.from([1, 2, 2, 0]), 2)), [1, 2]);
  assert.deepEqual(kept(applyTopK(Float32Array.from([1, 2, 3]), 0)), [0, 1, 2]);
  assert.deepEqual(kept(applyTopK(Float32Array.from([1, 2, 3]), 5)), [0, 1, 2]);
  assert.deepEqual(kept(applyTopK(Float32Array.from([-Infinity, 2, -Infinity, 1]), 3)), [1, 3]);
  const row = Float32Array.from([0.5, -1, 4]);
  applyTopK(row, 2);
  assert.deepEqual(row, Float32Array.from([0.5, -Infinity, 4]));
});

test("top-p keeps the smallest most-probable set with cumulative ≥ p, at least one, ties by lower id", () => {
  assert.deepEqual(kept(applyTopP(logsOf([0.2, 0.5, 0.3]), 0.75)), [1, 2]);
  assert.deepEqual(kept(applyTopP(logsOf([0.2, 0.5, 0.3]), 0.45)), [1]);
  assert.deepEqual(kept(applyTopP(logsOf([0.2, 0.5, 0.3]), 0.81)), [0, 1, 2]);
  assert.deepEqual(kept(applyTopP(logsOf([0.2, 0.5, 0.3]), 1e-9)), [1]);
  assert.deepEqual(kept(applyTopP(logsOf([0.25, 0.25, 0.25, 0.25]), 0.5)), [0, 1]);
  assert.deepEqual(kept(applyTopP(logsOf([0.2, 0.5, 0.3]), 1)), [0, 1, 2]);
  // Brute-force property on random rows.
  const random = new SeededRandom(9);
  for (let trial = 0; trial < 300; trial++) {
    const v = 2 + (trial % 9);
    const row = Float32Array.from({ length: v }, () => (random.nextFloat() - 0.5) * 6);
    const p = 0.05 + 0.9 * random.nextFloat();
    const probabilities = Array.from(row, Math.exp);
    const total = probabilities.reduce((s, x) => s + x, 0);
    const keptIds = kept(applyTopP(Float32Array.from(row), p));
    const keptMass = keptIds.reduce((s, i) => s + probabilities[i] / total, 0);
    assert.ok(keptMass >= p - 1e-12, `trial ${trial}: kept mass ${keptMass} < ${p}`);
    const smallest = Math.min(...keptIds.map((i) => probabilities[i] / total));
    assert.ok(keptMass - smallest < p + 1e-12, `trial ${trial}: not minimal`);
    const dropped = [...row.keys()].filter((i) => !keptIds.includes(i));
    for (const d of dropped) assert.ok(probabilities[d] / total <= smallest + 1e-12, `trial ${trial}: dropped a likelier token`);
  }
});

test("top-p equals a sort-based reference (descending, ties by lower id) on rows with many ties", () => {
  const random = new SeededRandom(21);
  for (let trial = 0; trial < 400; trial++) {
    const v = 1 + (trial % 40);
    const row = new Float32Array(v);
    for (let i = 0; i < v; i++) row[i] = random.nextFloat() < 0.1 ? -Infinity : Math.floor(random.nextFloat() * 4);
    if (row.every((x) => x === -Infinity)) row[0] = 0;
    const p = 0.01 + 0.98 * random.nextFloat();
    const max = Math.max(...row);
    const weights = Array.from(row, (x) => Math.exp(x - max));
    const total = weights.reduce((s, w) => s + w, 0);
    const order = [...row.keys()].sort((a, b) => weights[b] - weights[a] || a - b);
    const expected: number[] = [];
    let cumulative = 0;
    for (const id of order) {
      if (expected.length > 0 && cumulative >= p) break;
      if (weights[id] === 0) break;
      expected.push(id);
      cumulative += weights[id] / total;
    }
    assert.deepEqual(kept(applyTopP(Float32Array.from(row), p)), expected.sort((a, b) => a - b), `trial ${trial} p=${p}`);
  }
});

test("temperature divides the scores; HF order temperature → top-k → top-p is what the sampler applies", () => {
  assert.deepEqual(applyTemperature(Float32Array.from([2, -4, -Infinity]), 2), Float32Array.from([1, -2, -Infinity]));
  const row = Float32Array.from([2, 1, 0]);
  const tokensFor = (config: SamplingConfig): Set<number> => {
    const sampler = new TokenSampler(config);
    return new Set(Array.from({ length: 400 }, () => sampler.next(row)));
  };
  // T = 0.5 sharpens: p(0) = 0.867 ≥ 0.7 ⇒ only token 0. T = 2 flattens: 0.506 + 0.307 ⇒ tokens 0 and 1.
  assert.deepEqual(tokensFor({ kind: "sample", temperature: 0.5, topP: 0.7, seed: 1 }), new Set([0]));
  assert.deepEqual(tokensFor({ kind: "sample", temperature: 2, topP: 0.7, seed: 1 }), new Set([0, 1]));
  // top-k before top-p: after top-2, probabilities renormalise to (0.533, 0.467) and p = 0.5 keeps token 0 only
  // (top-p first would keep tokens 0 and 1).
  const skewed = logsOf([0.4, 0.35, 0.25]);
  const sampler = new TokenSampler({ kind: "sample", topK: 2, topP: 0.5, seed: 3 });
  assert.deepEqual(new Set(Array.from({ length: 400 }, () => sampler.next(skewed))), new Set([0]));
});

test("sample frequencies match the probabilities (χ² with a fixed seed), including after top-k and top-p", () => {
  const probabilities = [0.05, 0.1, 0.15, 0.2, 0.22, 0.28];
  const row = logsOf(probabilities);
  const n = 20000;
  const draw = (config: SamplingConfig): number[] => {
    const sampler = new TokenSampler(config);
    const counts = new Array<number>(probabilities.length).fill(0);
    for (let i = 0; i < n; i++) counts[sampler.next(row)]++;
    return counts;
  };
  // df = 5, χ²(0.999) = 20.5
  assert.ok(chiSquare(draw({ kind: "sample", seed: 11 }), probabilities, n) < 20.5);
  // top-3: tokens 3, 4, 5 renormalised; df = 2, χ²(0.999) = 13.8
  const top3 = draw({ kind: "sample", topK: 3, seed: 12 });
  assert.deepEqual(top3.slice(0, 3), [0, 0, 0]);
  assert.ok(chiSquare(top3, [0, 0, 0, 0.2 / 0.7, 0.22 / 0.7, 0.28 / 0.7], n) < 13.8);
  // top-p 0.5: 0.28 + 0.22 = 0.5 ≥ 0.5 is borderline in floating point, so use 0.45 ⇒ {5, 4}; df = 1, 10.8
  const nucleus = draw({ kind: "sample", topP: 0.45, seed: 13 });
  assert.deepEqual(nucleus.slice(0, 4), [0, 0, 0, 0]);
  assert.ok(chiSquare(nucleus, [0, 0, 0, 0, 0.22 / 0.5, 0.28 / 0.5], n) < 10.8);
  // temperature 2: p ∝ sqrt(p)
  const roots = probabilities.map(Math.sqrt);
  const rootSum = roots.reduce((s, x) => s + x, 0);
  assert.ok(chiSquare(draw({ kind: "sample", temperature: 2, seed: 14 }), roots.map((r) => r / rootSum), n) < 20.5);
  // A wrong distribution is rejected by the same test (the bound has power).
  assert.ok(chiSquare(draw({ kind: "sample", seed: 11 }), [0.1, 0.1, 0.15, 0.2, 0.2, 0.25], n) > 20.5);
});

test("TokenSampler: same seed ⇒ same tokens, resumable state, caller's row untouched, greedy", () => {
  const random = new SeededRandom(5);
  const rows = Array.from({ length: 30 }, () => Float32Array.from({ length: 50 }, () => random.nextFloat() * 4));
  const config: SamplingConfig = { kind: "sample", temperature: 0.8, topK: 20, topP: 0.9, seed: 1234 };
  const run = (sampler: TokenSampler, from = 0): number[] => rows.slice(from).map((r) => sampler.next(r));
  const first = run(new TokenSampler(config));
  assert.deepEqual(run(new TokenSampler(config)), first);
  assert.notDeepEqual(run(new TokenSampler({ ...config, seed: 1235 })), first);
  const partial = new TokenSampler(config);
  rows.slice(0, 10).forEach((r) => partial.next(r));
  assert.deepEqual(run(new TokenSampler(config, partial.randomState), 10), first.slice(10));
  const copy = Float32Array.from(rows[0]);
  new TokenSampler(config).next(rows[0]);
  assert.deepEqual(rows[0], copy);
  const greedy = new TokenSampler({ kind: "greedy" });
  assert.deepEqual(run(greedy), rows.map(argmax));
  assert.equal(greedy.randomState, undefined);
  assert.equal(sampleFromScores(Float32Array.from([-Infinity, 0, -Infinity]), new SeededRandom(1)), 1);
});

test("warpers as LogitsProcessors chain like the sampler", () => {
  const row = Float32Array.from([4, 2, 2.5, 0, 1]);
  const list = new LogitsProcessorList([new TemperatureWarper(2), new TopKWarper(3), new TopPWarper(0.6)]);
  const processed = Float32Array.from(row);
  list.process(processed, { step: 0, tokenIds: [] });
  const expected = applyTopP(applyTopK(applyTemperature(Float32Array.from(row), 2), 3), 0.6);
  assert.deepEqual(processed, expected);
  assert.deepEqual(kept(processed), [0, 2]);
  assert.throws(() => new TopPWarper(0), (e: unknown) => e instanceof SamplingConfigError);
});

test("request options map to configs; bad fields raise SamplingConfigError naming them", () => {
  assert.deepEqual(samplingConfigFromOptions({ temperature: 0, seed: 3 }), { kind: "greedy" });
  assert.deepEqual(samplingConfigFromOptions({ greedy: true }), { kind: "greedy" });
  assert.deepEqual(samplingConfigFromOptions({ topP: 0.9 }), { kind: "sample", temperature: 1, topK: 0, topP: 0.9, seed: 0 });
  const cases: [SamplingConfig, RegExp][] = [
    [{ kind: "sample", temperature: -1, seed: 0 }, /temperature must be a finite number > 0/],
    [{ kind: "sample", temperature: 0, seed: 0 }, /use kind "greedy" for 0/],
    [{ kind: "sample", topK: 1.5, seed: 0 }, /topK must be an integer ≥ 0/],
    [{ kind: "sample", topP: 0, seed: 0 }, /topP must be in \(0, 1\]/],
    [{ kind: "sample", topP: 1.2, seed: 0 }, /topP must be in \(0, 1\]/],
    [{ kind: "sample", seed: 0.5 }, /seed must be a safe integer/],
    [{ kind: "beam" } as never, /unknown sampling kind "beam"/],
  ];
  for (const [config, pattern] of cases) {
    assert.throws(() => validateSamplingConfig(config), (e: unknown) => e instanceof SamplingConfigError && pattern.test(e.message));
  }
});
