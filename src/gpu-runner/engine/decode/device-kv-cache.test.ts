/**
 * @module engine/decode/device-kv-cache.test
 * DeviceKvCache on the CPU provider (device = host memory; test/gpu runs it on WebGPU): the step graph with its new
 * keys/values kept as DeviceTensors and written by the cache-update graph gives the same logits, step after step, as
 * the host KvCache path of CachedDecoder, for two rows of different lengths; a full cache is CONTEXT_FULL.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomTinyWeights, tinyConfig } from "../model/arm-graph-reference.ts";
import { buildDecodeStepGraph } from "../model/llama-graph.ts";
import { mulberry32 } from "../onnx/index.ts";
import { createEngineSession } from "../session/index.ts";
import { CachedDecoder } from "./decode-graph.ts";
import { DeviceKvCache, newKvNames } from "./device-kv-cache.ts";
import { KvCacheError } from "./kv-cache.ts";

const config = tinyConfig({ vocabSize: 37, maxSeqLen: 48 });
const model = { config, weights: randomTinyWeights(config, mulberry32(5)) };

test("steps through DeviceKvCache give the host KvCache path's logits; a full cache is CONTEXT_FULL", async () => {
  const reference = new CachedDecoder(model, undefined, { threads: 1, minCacheBucket: 32 });
  const rows = [[1, 5, 9, 4], [1, 7]];
  const { cache: hostCache } = await reference.prefill(rows);
  const { cache: start } = await reference.prefill(rows);
  const capacity = start.capacity;
  const stepGraph = buildDecodeStepGraph(config, model.weights, { batch: 2, cacheLen: capacity, dtype: "float32", weightsAs: "inputs" });
  const step = await createEngineSession(stepGraph, { intraOpNumThreads: 1, deviceOutputs: newKvNames(config) });
  const device = await DeviceKvCache.fromHost(config, start, rows.map((r) => r.length), "cpu");
  try {
    let tokens = [3, 8];
    for (let s = 0; s < 6; s++) {
      const expected = await reference.step(hostCache, tokens);
      const { host, device: kv } = await step.runKeeping({ ...stepGraph.frozenFeeds, ...device.stepFeeds(), input_ids: { dtype: "int64", shape: [2, 1], data: BigInt64Array.from(tokens, BigInt) } });
      await device.append(kv);
      const got = host.logits.data as Float32Array;
      expected.data.forEach((v, i) => assert.ok(Math.abs(got[i] - v) < 1e-5, `step ${s} logit ${i}: ${got[i]} vs ${v}`));
      tokens = tokens.map((t) => (t * 7 + s) % config.vocabSize);
    }
    assert.deepEqual(device.lengths, [10, 8]);
    while (device.lengths[0] < capacity) {
      const { device: kv } = await step.runKeeping({ ...stepGraph.frozenFeeds, ...device.stepFeeds(), input_ids: { dtype: "int64", shape: [2, 1], data: BigInt64Array.of(1n, 1n) } }, newKvNames(config));
      await device.append(kv);
    }
    assert.throws(() => device.stepFeeds(), (e: unknown) => e instanceof KvCacheError && e.code === "CONTEXT_FULL");
  } finally {
    await device.release();
    await step.release();
    await reference.release();
  }
});
