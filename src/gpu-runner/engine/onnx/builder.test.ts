/**
 * @module engine/onnx/builder.test
 * Shape rules against onnxruntime (which re-infers shapes on load), typed errors, and external-data serialization.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeModelProto, GraphBuilder, GraphNameError, GraphShapeError, sizeOf, type Value } from "./index.ts";
import { createEngineSession } from "../session/index.ts";

test("declared shapes equal the shapes onnxruntime computes", async () => {
  const b = new GraphBuilder("shapes");
  const x = b.input("x", "float32", [2, 3, 4]);
  const w = b.input("w", "float32", [4, 5]);
  const ids = b.input("ids", "int64", [2, 2]);
  const outs: Value[] = [
    b.matMul(x, w),
    b.matMul(b.unsqueeze(x, [1]), b.reshape(b.transpose(x, [0, 2, 1]), [2, 1, 4, 3])),
    b.reshape(x, [0, -1]),
    b.reduceSum(x, [-1], false),
    b.reduceMean(x, [0, 2], true),
    b.concat(b.split(x, 2, [1, 3]).reverse(), 2),
    b.gather(w, ids, 0),
    b.gather(x, ids, 1),
    b.expand(b.squeeze(b.reduceSum(x, [1], true), [1]), [3, 2, 4]),
    b.add(b.unsqueeze(x, [0]), b.reshape(w, [5, 1, 1, 4])),
    b.logSoftmax(x, 1),
    b.zeros([2, 2], "float32"),
  ];
  outs.forEach((o, i) => b.output(o, `out${i}`));
  const session = await createEngineSession(b.serialize());
  const feed = (n: number) => Float32Array.from({ length: n }, (_, i) => i / 7);
  const result = await session.run({
    x: { dtype: "float32", shape: [2, 3, 4], data: feed(24) },
    w: { dtype: "float32", shape: [4, 5], data: feed(20) },
    ids: { dtype: "int64", shape: [2, 2], data: BigInt64Array.of(0n, 1n, 2n, 1n) },
  });
  outs.forEach((o, i) => assert.deepEqual(result[`out${i}`].shape, [...o.shape], `out${i}`));
  assert.deepEqual([...result.out2.shape], [2, 12]);
  assert.deepEqual([...result.out6.shape], [2, 2, 5]);
  await session.release();
});

test("bad operands raise typed errors that name the problem", () => {
  const b = new GraphBuilder();
  const x = b.input("x", "float32", [2, 3]);
  const y = b.input("y", "float32", [4, 3]);
  assert.throws(() => b.add(x, y), (e: unknown) => e instanceof GraphShapeError && e.code === "GRAPH_SHAPE_INVALID" && /\[2,3\] and \[4,3\]/.test(e.message));
  assert.throws(() => b.matMul(x, y), /inner dimensions differ/);
  assert.throws(() => b.reshape(x, [4, -1]), /cannot infer -1/);
  assert.throws(() => b.squeeze(x, [0]), /axis 0 of \[2,3\] is not 1/);
  assert.throws(() => b.input("x", "float32", [1]), (e: unknown) => e instanceof GraphNameError && /already used/.test(e.message));
  const d = b.input("d", "float64", [2, 3]);
  assert.throws(() => b.mul(x, d), /dtypes differ/);
  assert.throws(() => b.gather(x, x), /must be int64/);
  assert.throws(() => b.split(x, 1, [1, 1]), /do not sum to dimension 3/);
  assert.throws(() => b.serialize(), /has no outputs/);
});

test("big initializers go to external data and load through the externalData option", async () => {
  const b = new GraphBuilder("external");
  const big = Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i));
  const w = b.initializer("big", "float32", [64, 64], big);
  const small = b.initializer("small", "float32", [64], new Float32Array(64).fill(0.5));
  const x = b.input("x", "float32", [1, 64]);
  b.output(b.add(b.matMul(x, w), small), "y");
  const model = b.serialize({ externalDataMinBytes: 1024, externalDataPath: "w.bin" });
  assert.equal(model.externalData.length, 1);
  assert.equal(model.externalData[0].path, "w.bin");
  assert.ok(model.modelBytes.byteLength < 2000, `model bytes ${model.modelBytes.byteLength}`);
  const decoded = decodeModelProto(model.modelBytes);
  const inits = decoded.graph.initializer;
  const bigInit = inits.find((t) => t.name === "big")!;
  assert.equal(bigInit.dataLocation, 1);
  assert.deepEqual(bigInit.externalData?.map((e) => e.key), ["location", "offset", "length"]);
  assert.equal(inits.find((t) => t.name === "small")!.rawData?.byteLength, 256);
  const session = await createEngineSession(model);
  const xs = Float32Array.from({ length: 64 }, (_, i) => (i % 5) - 2);
  const out = await session.run({ x: { dtype: "float32", shape: [1, 64], data: xs } });
  const expected = new Float64Array(64);
  for (let j = 0; j < 64; j++) {
    let s = 0.5;
    for (let i = 0; i < 64; i++) s += xs[i] * big[i * 64 + j];
    expected[j] = s;
  }
  const y = out.y.data as Float32Array;
  assert.equal(y.length, sizeOf([1, 64]));
  for (let j = 0; j < 64; j++) assert.ok(Math.abs(y[j] - expected[j]) < 1e-4, `y[${j}] ${y[j]} vs ${expected[j]}`);
  await session.release();
});
