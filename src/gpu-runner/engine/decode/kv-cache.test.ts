/**
 * @module engine/decode/kv-cache.test
 * Bucket sizes, cache growth that preserves every cached value, row fan-out, the step feeds (mask, positions) and
 * the errors for a full cache or malformed prefill outputs.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { HostTensor } from "../onnx/index.ts";
import { tinyConfig } from "../model/arm-graph-reference.ts";
import { MASK_VALUE, kvNames } from "../model/llama-graph.ts";
import { bucketLength, KvCache, KvCacheError } from "./kv-cache.ts";

const config = tinyConfig({ nLayers: 2, nKvHeads: 2, headDim: 4, maxSeqLen: 24 });

function present(batch: number, T: number, offset: number): HostTensor {
  const n = batch * config.nKvHeads * T * config.headDim;
  return { dtype: "float32", shape: [batch, config.nKvHeads, T, config.headDim], data: Float32Array.from({ length: n }, (_, i) => offset + i) };
}

function prefillOutputs(batch: number, T: number): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (let l = 0; l < config.nLayers; l++) {
    out[kvNames(l).presentK] = present(batch, T, 1000 * l);
    out[kvNames(l).presentV] = present(batch, T, 1000 * l + 500);
  }
  return out;
}

/** Value at [b, kv, t, d] of a cache tensor. */
function at(t: HostTensor, b: number, kv: number, pos: number, d: number): number {
  const [, KV, L, hd] = t.shape;
  return (t.data as Float32Array)[((b * KV + kv) * L + pos) * hd + d];
}

test("bucketLength: powers of two from a minimum, clamped to the context; too long is CONTEXT_FULL", () => {
  assert.equal(bucketLength(1, 8, 512), 8);
  assert.equal(bucketLength(9, 8, 512), 16);
  assert.equal(bucketLength(16, 8, 512), 16);
  assert.equal(bucketLength(300, 8, 500), 500);
  assert.throws(() => bucketLength(501, 8, 500), (e: unknown) => e instanceof KvCacheError && e.code === "CONTEXT_FULL");
  assert.throws(() => bucketLength(0, 8, 500), (e: unknown) => e instanceof KvCacheError && e.code === "INVALID_LENGTH");
});

test("prefill seeds rows, append writes at each row's length, growth keeps every cached value", () => {
  const cache = KvCache.fromPrefill(config, prefillOutputs(2, 4), [4, 2], 4, "float32");
  assert.deepEqual([...cache.lengths], [4, 2]);
  assert.throws(() => cache.stepFeeds(), (e: unknown) => e instanceof KvCacheError && e.code === "CONTEXT_FULL" && /row 0/.test(e.message));
  const before = at(cache.layer(1).v, 1, 1, 3, 2);
  cache.reserveNext(8);
  assert.equal(cache.capacity, 8);
  assert.equal(at(cache.layer(1).v, 1, 1, 3, 2), before);
  const feeds = cache.stepFeeds();
  assert.deepEqual([...feeds.position.data], [4n, 2n]);
  const mask = feeds.cache_mask.data as Float32Array;
  assert.deepEqual([...mask.subarray(0, 8)].map((v) => v === 0), [true, true, true, true, false, false, false, false]);
  assert.equal(mask[8 + 2], MASK_VALUE);
  assert.equal(mask[8 + 1], 0);
  const step: Record<string, HostTensor> = {};
  for (let l = 0; l < config.nLayers; l++) {
    step[kvNames(l).newK] = { dtype: "float32", shape: [2, 2, 1, 4], data: new Float32Array(16).fill(-7 - l) };
    step[kvNames(l).newV] = { dtype: "float32", shape: [2, 2, 1, 4], data: new Float32Array(16).fill(-9 - l) };
  }
  cache.append(step);
  assert.deepEqual([...cache.lengths], [5, 3]);
  assert.equal(at(cache.layer(0).k, 0, 1, 4, 0), -7);
  assert.equal(at(cache.layer(1).v, 1, 0, 2, 3), -10);
  assert.equal(at(cache.layer(0).k, 1, 0, 1, 0), at(KvCache.fromPrefill(config, prefillOutputs(2, 4), [4, 2], 4, "float32").layer(0).k, 1, 0, 1, 0));
  assert.throws(() => cache.append({}), (e: unknown) => e instanceof KvCacheError && e.code === "CACHE_SHAPE" && /new_k\.0/.test(e.message));
});

test("repeatRows fans a batch out; lengths and values follow their source row", () => {
  const cache = KvCache.fromPrefill(config, prefillOutputs(2, 3), [3, 1], 8, "float32");
  const wide = cache.repeatRows(3);
  assert.equal(wide.batch, 6);
  assert.deepEqual([...wide.lengths], [3, 1, 3, 1, 3, 1]);
  for (let r = 0; r < 6; r++) assert.equal(at(wide.layer(1).k, r, 1, 2, 3), at(cache.layer(1).k, r % 2, 1, 2, 3));
});

test("malformed prefill outputs and capacities are rejected", () => {
  assert.throws(() => KvCache.fromPrefill(config, {}, [1], 8, "float32"), /present_k\.0/);
  assert.throws(() => KvCache.fromPrefill(config, prefillOutputs(1, 8), [8], 4, "float32"), /exceeds the cache capacity 4/);
  assert.throws(() => KvCache.fromPrefill(config, prefillOutputs(1, 4), [5], 8, "float32"), (e: unknown) => e instanceof KvCacheError && e.code === "INVALID_LENGTH");
  assert.throws(() => new KvCache(config, 1, 25, "float32"), /capacity must be an integer in \[1, 24\]/);
});
