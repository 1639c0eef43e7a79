/**
 * @module engine/onnx/autodiff.test
 * Finite-difference checks of every VJP rule in float64, one test per rule (and per broadcast / layout variant).
 * All cases are independent subgraphs of one graph, so one session serves them and perturbations run batched.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { appendGradients, GraphBuilder, mulberry32, sizeOf, uniformArray, vjpRules, type OpType, type Value } from "./index.ts";
import { checkGradients, createEngineSession, type GradientCheckResult, type HostTensor } from "../session/index.ts";

interface Case {
  readonly name: string;
  /** The rules the case exercises (coverage is asserted). */
  readonly rules: readonly OpType[];
  readonly inputs: readonly { shape: number[]; lo?: number; hi?: number; avoidZero?: boolean }[];
  readonly build: (b: GraphBuilder, xs: Value[]) => Value;
  readonly fuse?: boolean;
}

const idx = (b: GraphBuilder, shape: number[], values: number[]): Value =>
  b.constant("int64", shape, BigInt64Array.from(values.map(BigInt)));

const cases: Case[] = [
  { name: "Add broadcast [2,3]+[3]", rules: ["Add"], inputs: [{ shape: [2, 3] }, { shape: [3] }], build: (b, [x, y]) => b.add(x, y) },
  { name: "Add broadcast [2,3]+[2,1]", rules: ["Add"], inputs: [{ shape: [2, 3] }, { shape: [2, 1] }], build: (b, [x, y]) => b.add(x, y) },
  { name: "Sub broadcast [3]-[2,3]", rules: ["Sub"], inputs: [{ shape: [3] }, { shape: [2, 3] }], build: (b, [x, y]) => b.sub(x, y) },
  { name: "Mul broadcast [2,1,3]*[4,1]", rules: ["Mul"], inputs: [{ shape: [2, 1, 3] }, { shape: [4, 1] }], build: (b, [x, y]) => b.mul(x, y) },
  { name: "Mul same value twice (accumulation)", rules: ["Mul", "Add"], inputs: [{ shape: [5] }], build: (b, [x]) => b.add(b.mul(x, x), x) },
  { name: "Div broadcast [2,3]/[3]", rules: ["Div"], inputs: [{ shape: [2, 3] }, { shape: [3], lo: 0.5, hi: 2 }], build: (b, [x, y]) => b.div(x, y) },
  { name: "Neg", rules: ["Neg"], inputs: [{ shape: [4] }], build: (b, [x]) => b.neg(x) },
  { name: "Exp", rules: ["Exp"], inputs: [{ shape: [2, 3] }], build: (b, [x]) => b.exp(x) },
  { name: "Log", rules: ["Log"], inputs: [{ shape: [2, 3], lo: 0.5, hi: 2 }], build: (b, [x]) => b.log(x) },
  { name: "Sqrt", rules: ["Sqrt"], inputs: [{ shape: [2, 3], lo: 0.5, hi: 2 }], build: (b, [x]) => b.sqrt(x) },
  { name: "Reciprocal", rules: ["Reciprocal"], inputs: [{ shape: [2, 3], lo: 0.5, hi: 2 }], build: (b, [x]) => b.reciprocal(x) },
  { name: "Sigmoid", rules: ["Sigmoid"], inputs: [{ shape: [2, 3], lo: -3, hi: 3 }], build: (b, [x]) => b.sigmoid(x) },
  { name: "Softplus", rules: ["Softplus"], inputs: [{ shape: [2, 3], lo: -3, hi: 3 }], build: (b, [x]) => b.softplus(x) },
  { name: "stable softplus (float64 composite)", rules: ["Relu", "Abs", "Exp", "Log", "Add", "Neg"], inputs: [{ shape: [6], lo: -3, hi: 3, avoidZero: true }], build: (b, [x]) => b.stableSoftplus(x) },
  { name: "Relu", rules: ["Relu"], inputs: [{ shape: [8], avoidZero: true }], build: (b, [x]) => b.relu(x) },
  { name: "Abs", rules: ["Abs"], inputs: [{ shape: [8], avoidZero: true }], build: (b, [x]) => b.abs(x) },
  { name: "Sign (zero gradient) plus identity path", rules: ["Sign", "Identity"], inputs: [{ shape: [5], avoidZero: true }], build: (b, [x]) => b.add(b.sign(x), b.identity(x)) },
  { name: "Cast float64 to float64", rules: ["Cast"], inputs: [{ shape: [4] }], build: (b, [x]) => b.mul(b.cast(x, "float64"), x) },
  { name: "MatMul 2-D", rules: ["MatMul"], inputs: [{ shape: [2, 3] }, { shape: [3, 4] }], build: (b, [x, y]) => b.matMul(x, y) },
  { name: "MatMul batched x 2-D weight", rules: ["MatMul"], inputs: [{ shape: [2, 2, 3] }, { shape: [3, 4] }], build: (b, [x, y]) => b.matMul(x, y) },
  { name: "MatMul batch broadcast [2,1,2,3]x[3,3,2]", rules: ["MatMul"], inputs: [{ shape: [2, 1, 2, 3] }, { shape: [3, 3, 2] }], build: (b, [x, y]) => b.matMul(x, y) },
  { name: "MatMul 2-D x batched", rules: ["MatMul"], inputs: [{ shape: [2, 3] }, { shape: [2, 3, 2] }], build: (b, [x, y]) => b.matMul(x, y) },
  { name: "Transpose perm [1,2,0]", rules: ["Transpose"], inputs: [{ shape: [2, 3, 4] }], build: (b, [x]) => b.transpose(x, [1, 2, 0]) },
  { name: "Reshape with 0 and -1", rules: ["Reshape"], inputs: [{ shape: [2, 6] }], build: (b, [x]) => b.reshape(x, [0, 3, -1]) },
  { name: "Squeeze", rules: ["Squeeze"], inputs: [{ shape: [2, 1, 3] }], build: (b, [x]) => b.squeeze(x, [1]) },
  { name: "Unsqueeze", rules: ["Unsqueeze"], inputs: [{ shape: [2, 3] }], build: (b, [x]) => b.unsqueeze(x, [0, -1]) },
  { name: "Concat axis 1", rules: ["Concat"], inputs: [{ shape: [2, 1] }, { shape: [2, 3] }], build: (b, [x, y]) => b.concat([x, y, x], 1) },
  { name: "Split, all parts used", rules: ["Split"], inputs: [{ shape: [2, 5] }], build: (b, [x]) => { const [p, q] = b.split(x, 1, [2, 3]); return b.concat([q, p], 1); } },
  { name: "Split, one part unused (zero fill)", rules: ["Split", "ConstantOfShape"], inputs: [{ shape: [3, 2] }], build: (b, [x]) => b.split(x, 0, [1, 2])[1] },
  { name: "Gather axis 0, repeated indices", rules: ["Gather"], inputs: [{ shape: [4, 3] }], build: (b, [x]) => b.gather(x, idx(b, [2, 3], [1, 3, 1, 0, 1, 3]), 0) },
  { name: "Gather axis 1", rules: ["Gather"], inputs: [{ shape: [2, 4, 2] }], build: (b, [x]) => b.gather(x, idx(b, [3], [2, 0, 2]), 1) },
  { name: "GatherElements axis 1, repeated", rules: ["GatherElements"], inputs: [{ shape: [2, 4] }], build: (b, [x]) => b.gatherElements(x, idx(b, [2, 3], [0, 3, 3, 1, 1, 2]), 1) },
  { name: "ScatterElements add, data and updates", rules: ["ScatterElements"], inputs: [{ shape: [2, 4] }, { shape: [2, 3] }], build: (b, [x, u]) => b.scatterElements(x, idx(b, [2, 3], [0, 3, 3, 1, 1, 2]), u, 1, "add") },
  { name: "ScatterElements none, data and updates", rules: ["ScatterElements"], inputs: [{ shape: [2, 4] }, { shape: [2, 2] }], build: (b, [x, u]) => b.scatterElements(x, idx(b, [2, 2], [3, 0, 2, 1]), u, 1, "none") },
  { name: "ReduceSum keepdims=0", rules: ["ReduceSum"], inputs: [{ shape: [2, 3, 2] }], build: (b, [x]) => b.reduceSum(x, [1], false) },
  { name: "ReduceMean keepdims=1 two axes", rules: ["ReduceMean"], inputs: [{ shape: [2, 3, 2] }], build: (b, [x]) => b.reduceMean(x, [0, 2], true) },
  { name: "Softmax last axis", rules: ["Softmax"], inputs: [{ shape: [2, 5] }], build: (b, [x]) => b.softmax(x, -1) },
  { name: "LogSoftmax axis 0 (generic rule)", rules: ["LogSoftmax"], inputs: [{ shape: [4, 3] }], build: (b, [x]) => b.logSoftmax(x, 0) },
  {
    name: "LogSoftmax + GatherElements generic (fusion off)",
    rules: ["LogSoftmax", "GatherElements"],
    inputs: [{ shape: [2, 3, 6] }],
    fuse: false,
    build: (b, [x]) => b.gatherElements(b.logSoftmax(x, 2), idx(b, [2, 3, 1], [5, 0, 2, 2, 1, 4]), 2),
  },
  {
    name: "LogSoftmax + GatherElements fused",
    rules: ["LogSoftmax", "GatherElements"],
    inputs: [{ shape: [2, 3, 6] }],
    build: (b, [x]) => b.gatherElements(b.logSoftmax(x, 2), idx(b, [2, 3, 1], [5, 0, 2, 2, 1, 4]), 2),
  },
  {
    name: "LogSoftmax + GatherElements fused, two picks per row",
    rules: ["LogSoftmax", "GatherElements"],
    inputs: [{ shape: [3, 5] }],
    build: (b, [x]) => b.gatherElements(b.logSoftmax(x, 1), idx(b, [3, 2], [0, 4, 2, 2, 1, 3]), 1),
  },
  { name: "Expand [3,1] to [2,3,4]", rules: ["Expand"], inputs: [{ shape: [3, 1] }], build: (b, [x]) => b.expand(x, [2, 3, 4]) },
  { name: "Dropout at ratio 0 (deterministic)", rules: ["Dropout"], inputs: [{ shape: [2, 3] }], build: (b, [x]) => b.dropout(x, b.scalar(0, "float64"))[0] },
  { name: "Shape feeding nothing differentiable", rules: ["Shape"], inputs: [{ shape: [2, 2] }], build: (b, [x]) => { b.shapeOf(x); return b.exp(x); } },
];

describe("VJP rules against central finite differences (float64)", () => {
  const results = new Map<string, GradientCheckResult[]>();

  before(async () => {
    const random = mulberry32(1234);
    const b = new GraphBuilder("vjp-check");
    const feeds: Record<string, HostTensor> = {};
    const checks: { input: string; gradientOutput: string; lossOutput: string }[] = [];
    cases.forEach((c, ci) => {
      const xs = c.inputs.map((spec, ii) => {
        const name = `c${ci}_x${ii}`;
        const data = uniformArray(random, sizeOf(spec.shape), spec.lo ?? -1.5, spec.hi ?? 1.5);
        if (spec.avoidZero) for (let i = 0; i < data.length; i++) if (Math.abs(data[i]) < 0.2) data[i] += data[i] < 0 ? -0.3 : 0.3;
        feeds[name] = { dtype: "float64", shape: spec.shape, data };
        return b.input(name, "float64", spec.shape);
      });
      const y = c.build(b, xs);
      // Weighted sum with random weights so every output element carries a distinct upstream gradient.
      const weights = b.constant("float64", y.shape, uniformArray(random, sizeOf(y.shape), -1, 1));
      const prod = b.mul(y, weights);
      const loss = y.shape.length === 0 ? prod : b.reduceSum(prod, y.shape.map((_, i) => i), false);
      const lossName = `c${ci}_loss`;
      b.output(loss, lossName);
      const g = appendGradients(b, loss, xs, { fuseLogSoftmaxGather: c.fuse ?? true });
      xs.forEach((x, ii) => {
        b.output(g.get(x.name)!, `c${ci}_grad${ii}`);
        checks.push({ input: x.name, gradientOutput: `c${ci}_grad${ii}`, lossOutput: lossName });
      });
    });
    const session = await createEngineSession(b.serialize(), { graphOptimizationLevel: "basic", intraOpNumThreads: 1 });
    const out = await checkGradients(session, feeds, checks, { independentLosses: true });
    cases.forEach((c, ci) => {
      results.set(c.name, out.filter((r) => r.input.startsWith(`c${ci}_`)));
    });
    await session.release();
  });

  for (const c of cases) {
    test(c.name, () => {
      const rs = results.get(c.name)!;
      assert.equal(rs.length, c.inputs.length);
      for (const r of rs) {
        assert.ok(r.relativeL2 < 1e-6, `${r.input}: relative L2 ${r.relativeL2} at h=${r.bestStep}`);
      }
      assert.ok(rs.some((r) => r.gradientNorm > 1e-3), "gradient must not vanish");
    });
  }

  test("every op type has a rule and every differentiable rule is exercised", () => {
    const covered = new Set(cases.flatMap((c) => c.rules));
    for (const op of Object.keys(vjpRules) as OpType[]) {
      assert.ok(covered.has(op), `rule ${op} has no finite-difference case`);
    }
  });
});

test("Dropout gradient uses the run's own mask and the 1/(1−p) scale", async () => {
  const b = new GraphBuilder("dropout");
  const x = b.input("x", "float64", [4000]);
  const ratio = b.input("ratio", "float64", []);
  const [y] = b.dropout(x, ratio);
  const w = b.constant("float64", [4000], uniformArray(mulberry32(5), 4000, -1, 1));
  const loss = b.output(b.reduceSum(b.mul(y, w), [0], false), "loss");
  b.output(y, "y");
  b.output(appendGradients(b, loss, [x]).get("x")!, "gx");
  const session = await createEngineSession(b.serialize());
  const xs = uniformArray(mulberry32(6), 4000, 0.5, 1.5);
  const out = await session.run({ x: { dtype: "float64", shape: [4000], data: xs }, ratio: { dtype: "float64", shape: [], data: Float64Array.of(0.25) } });
  const ys = out.y.data as Float64Array;
  const gx = out.gx.data as Float64Array;
  const weights = uniformArray(mulberry32(5), 4000, -1, 1);
  let dropped = 0;
  for (let i = 0; i < 4000; i++) {
    if (ys[i] === 0) {
      dropped++;
      assert.ok(gx[i] === 0, `dropped element ${i} gets no gradient`);
    } else {
      assert.ok(Math.abs(ys[i] - xs[i] / 0.75) < 1e-12, `kept element ${i} is scaled by 1/(1−p)`);
      assert.ok(Math.abs(gx[i] - weights[i] / 0.75) < 1e-12, `gradient ${i}`);
    }
  }
  assert.ok(dropped > 850 && dropped < 1150, `dropped ${dropped} of 4000 at p = 0.25`);
  await session.release();
});
