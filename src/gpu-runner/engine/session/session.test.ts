/**
 * @module engine/session/session.test
 * Provider selection (CUDA fallback through the injected factory), feed validation, typed outputs and the
 * thread-pool spinning setting.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { GraphBuilder } from "../onnx/index.ts";
import { createEngineSession, SessionCreateError, SessionRunError } from "./index.ts";
import * as ort from "onnxruntime-node";

function tinyModel() {
  const b = new GraphBuilder("tiny");
  const x = b.input("x", "float64", [3]);
  b.output(b.mul(x, b.scalar(2, "float64")), "y");
  return b.serialize();
}

test("auto falls back to CPU with one log line when CUDA cannot load", async () => {
  const lines: string[] = [];
  const providers: string[] = [];
  const session = await createEngineSession(tinyModel(), {
    executionProvider: "auto",
    logger: { info: (m) => lines.push(m) },
    createSession: async (bytes, opts) => {
      const p = String(opts.executionProviders?.[0]);
      providers.push(p);
      if (p === "cuda") throw new Error("Failed to load shared library libonnxruntime_providers_shared.so\nmore");
      return ort.InferenceSession.create(bytes, opts);
    },
  });
  assert.equal(session.provider, "cpu");
  assert.deepEqual(providers, ["cuda", "cpu"]);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /execution provider: cpu \(cuda unavailable: Failed to load shared library/);
  const out = await session.run({ x: { dtype: "float64", shape: [3], data: Float64Array.of(1, 2, 3) } });
  assert.equal(out.y.dtype, "float64");
  assert.deepEqual([...(out.y.data as Float64Array)], [2, 4, 6]);
});

test("an explicit cuda request fails with SessionCreateError instead of falling back", async () => {
  await assert.rejects(
    createEngineSession(tinyModel(), {
      executionProvider: "cuda",
      createSession: async () => {
        throw new Error("no cuda here");
      },
    }),
    (e: unknown) => e instanceof SessionCreateError && e.code === "SESSION_CREATE_FAILED" && /no cuda here/.test(e.message),
  );
});

test("run rejects missing, unknown and mis-sized feeds by name", async () => {
  const session = await createEngineSession(tinyModel());
  assert.equal(session.provider, "cpu");
  await assert.rejects(session.run({}), (e: unknown) => e instanceof SessionRunError && /missing feeds: x/.test(e.message));
  await assert.rejects(
    session.run({ x: { dtype: "float64", shape: [3], data: new Float64Array(3) }, z: { dtype: "float64", shape: [1], data: new Float64Array(1) } }),
    /unknown feeds: z/,
  );
  await assert.rejects(session.run({ x: { dtype: "float64", shape: [3], data: new Float64Array(2) } }), /feed "x": 2 elements/);
  await assert.rejects(session.run({ x: { dtype: "float64", shape: [3], data: new Float64Array(3) } }, ["nope"]), /unknown fetches: nope/);
});

test("float64 models default to the basic level and refuse fusing levels with a clear error", async () => {
  const model = tinyModel();
  assert.equal(model.usesFloat64, true);
  const levels: string[] = [];
  await createEngineSession(model, {
    createSession: async (bytes, opts) => {
      levels.push(String(opts.graphOptimizationLevel));
      return ort.InferenceSession.create(bytes, opts);
    },
  });
  assert.deepEqual(levels, ["basic"]);
  await assert.rejects(createEngineSession(model, { graphOptimizationLevel: "all" }), (e: unknown) => e instanceof SessionCreateError && /float64 model/.test(e.message));
});

test("thread pools do not spin-wait unless allowSpinning is set; onnxruntime accepts both settings", async () => {
  const seen: unknown[] = [];
  const capture = async (bytes: Uint8Array, opts: ort.InferenceSession.SessionOptions) => {
    seen.push(opts.extra);
    return ort.InferenceSession.create(bytes, opts);
  };
  for (const allowSpinning of [undefined, true]) {
    const session = await createEngineSession(tinyModel(), { createSession: capture, ...(allowSpinning ? { allowSpinning } : {}) });
    const out = await session.run({ x: { dtype: "float64", shape: [3], data: Float64Array.of(4, 5, 6) } });
    assert.deepEqual([...(out.y.data as Float64Array)], [8, 10, 12]);
    await session.release();
  }
  assert.deepEqual(seen, [
    { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
    { session: { intra_op: { allow_spinning: "1" }, inter_op: { allow_spinning: "1" } } },
  ]);
});
