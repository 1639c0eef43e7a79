/** @module engine/pareto/report.test */
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildParetoReport, formatAlpha } from "./report.ts";
import { simplexGrid } from "./grid.ts";
import { hypervolume } from "./hypervolume.ts";
import { ParetoInputError } from "./errors.ts";

/** A sweep whose rewards trade off along a concave curve, with two dominated α. */
function sweep(): { alpha: number[]; rewards: number[] }[] {
  return simplexGrid(2, 0.1).map((alpha, i) => {
    const t = alpha[0];
    const rewards = [Math.sqrt(t) * 2 - 1, Math.sqrt(1 - t) * 3 - 2];
    if (i === 4 || i === 7) return { alpha, rewards: [rewards[0] - 0.5, rewards[1] - 0.5] };
    return { alpha, rewards };
  });
}

test("report: points flagged onFront, front indices, HV of the front under the stored z, MIP, JSON round trip", () => {
  const points = sweep();
  const report = buildParetoReport(points, {
    objectiveNames: ["harmlessness", "helpfulness"],
    referencePoint: [-1.5, -2.5],
  });
  assert.equal(report.kind, "parm.pareto-report");
  assert.deepEqual(report.referencePoint, [-1.5, -2.5]);
  assert.deepEqual(report.rule, { rule: "explicit", point: [-1.5, -2.5] });
  assert.deepEqual(report.front, [0, 1, 2, 3, 5, 6, 8, 9, 10]);
  assert.equal(report.points[4].onFront, false);
  assert.equal(report.points[5].onFront, true);
  assert.equal(report.points[3].label, "(0.3, 0.7)");
  assert.equal(report.hypervolume, hypervolume(points.map((p) => p.rewards), [-1.5, -2.5]));
  const expectedMip = points.reduce((s, p) => s + p.alpha[0] * p.rewards[0] + p.alpha[1] * p.rewards[1], 0) / 11;
  assert.ok(Math.abs(report.mip - expectedMip) < 1e-12);
  assert.equal(report.points[2].innerProduct, points[2].alpha[0] * points[2].rewards[0] + points[2].alpha[1] * points[2].rewards[1]);
  assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
});

test("min-minus-margin takes minima over the sweep and the baselines; the rule is stored", () => {
  const points = sweep();
  const baselines = [
    { name: "base model", rewards: [-3, -1] },
    { name: "GenARM", rewards: [0.1, 0.1], alpha: [0.5, 0.5] },
    { name: "GenARM", rewards: [-2, 5], alpha: [0, 1] },
  ];
  const report = buildParetoReport(points, {
    objectiveNames: ["harmlessness", "helpfulness"],
    rule: { rule: "min-minus-margin", margin: 0.1 },
    baselines,
  });
  const all = [...points.map((p) => p.rewards), ...baselines.map((b) => b.rewards)];
  const expected = [0, 1].map((d) => {
    const values = all.map((r) => r[d]);
    const min = Math.min(...values);
    return min - 0.1 * (Math.max(...values) - min);
  });
  assert.deepEqual(report.referencePoint, expected);
  assert.deepEqual(report.rule, { rule: "min-minus-margin", margin: 0.1 });
  assert.deepEqual(
    report.baselines.map((b) => [b.name, b.points.length]),
    [
      ["base model", 1],
      ["GenARM", 2],
    ],
  );
  assert.equal(report.baselines[1].points[0].label, "GenARM (0.5, 0.5)");
  assert.equal(report.baselines[1].points[0].dominatedByFront, true); // the sweep's α = (0.5, 0.5) gives (0.414, 0.121)
  assert.equal(report.baselines[1].points[1].dominatedByFront, false);
  assert.equal(report.baselines[1].hypervolume, hypervolume([[0.1, 0.1], [-2, 5]], expected));
});

test("the baseline rule puts z at the named baseline's point; default rule is recorded when none is given", () => {
  const points = sweep();
  const report = buildParetoReport(points, {
    objectiveNames: ["a", "b"],
    rule: { rule: "baseline", name: "base" },
    baselines: [{ name: "base", rewards: [-0.5, -0.5] }],
  });
  assert.deepEqual(report.referencePoint, [-0.5, -0.5]);
  assert.deepEqual(report.rule, { rule: "baseline", name: "base" });
  assert.equal(report.baselines[0].hypervolume, 0);
  const defaulted = buildParetoReport(points, { objectiveNames: ["a", "b"] });
  assert.deepEqual(defaulted.rule, { rule: "min-minus-margin", margin: 0.1 });
  assert.ok(defaulted.hypervolume > 0);
});

test("k = 3 report over a 3-simplex grid", () => {
  const grid = simplexGrid(3, 0.25);
  const points = grid.map((alpha) => ({ alpha, rewards: alpha.map((a) => Math.sqrt(a)) }));
  const report = buildParetoReport(points, { objectiveNames: ["safe", "help", "humor"], referencePoint: [0, 0, 0] });
  assert.equal(report.points.length, 15);
  // Every point of sqrt(α) is non-dominated (moving weight raises one objective and lowers another).
  assert.equal(report.front.length, 15);
  assert.ok(report.hypervolume > 0 && report.hypervolume < 1);
});

test("bad reports raise ParetoInputError naming the problem", () => {
  const points = sweep();
  const cases: [() => unknown, string, RegExp][] = [
    [() => buildParetoReport([], { objectiveNames: ["a", "b"] }), "EMPTY_INPUT", /at least one/],
    [() => buildParetoReport(points, { objectiveNames: ["a"] }), "DIMENSION_MISMATCH", /points\.rewards\[0\] has 2 objectives, expected 1/],
    [() => buildParetoReport(points, { objectiveNames: ["a", "a"] }), "INVALID_OBJECTIVE_NAMES", /repeats "a"/],
    [
      () => buildParetoReport([...points, points[3]], { objectiveNames: ["a", "b"] }),
      "DUPLICATE_ALPHA",
      /points\[11\]\.alpha repeats points\[3\]\.alpha/,
    ],
    [
      () => buildParetoReport(points, { objectiveNames: ["a", "b"], referencePoint: [0, 0], rule: { rule: "min-minus-margin", margin: 0 } }),
      "INVALID_REFERENCE_RULE",
      /either referencePoint or rule/,
    ],
    [() => buildParetoReport(points, { objectiveNames: ["a", "b"], referencePoint: [0, 0, 0] }), "DIMENSION_MISMATCH", /3 objectives, expected 2/],
    [
      () => buildParetoReport(points, { objectiveNames: ["a", "b"], rule: { rule: "baseline", name: "missing" } }),
      "INVALID_REFERENCE_RULE",
      /named "missing", found 0/,
    ],
    [
      () => buildParetoReport(points, { objectiveNames: ["a", "b"], baselines: [{ name: "x", rewards: [1, NaN] }] }),
      "NON_FINITE_VALUE",
      /baselines\[0\]\.rewards\[0\]\[1\] is NaN/,
    ],
    [
      () => buildParetoReport([{ alpha: [0.2, 0.2], rewards: [1, 1] }], { objectiveNames: ["a", "b"] }),
      "INVALID_ALPHA",
      /points\[0\]\.alpha sums to 0\.4/,
    ],
  ];
  for (const [fn, code, pattern] of cases) {
    assert.throws(fn, (e: unknown) => e instanceof ParetoInputError && e.code === code && pattern.test(e.message), `${code} ${pattern}`);
  }
  assert.equal(formatAlpha([1 / 3, 2 / 3]), "(0.333333, 0.666667)");
});
