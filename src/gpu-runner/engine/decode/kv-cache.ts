/**
 * @module engine/decode/kv-cache
 * A host-side (CPU) key/value cache for the decode-step graphs of model/llama-graph.ts: per layer, roped keys and
 * values [batch, nKvHeads, capacity, headDim], plus each row's length (the number of cached positions, which is
 * also the position of the row's next token).
 *
 * Contract with the graphs: the prefill graph's `present_k.{l}` / `present_v.{l}` seed the cache (`fromPrefill`);
 * each step graph takes the cache as `past_k.{l}` / `past_v.{l}` with `cache_mask` and `position`, and returns the
 * fed token's `new_k.{l}` / `new_v.{l}`, which `append` writes at each row's length. Slots at or beyond a row's
 * length hold stale data and are masked out (weight exp(−1e9) = 0), so prefill padding never leaks.
 *
 * Capacities come in buckets (`bucketLength`: powers of two, clamped to the model's context) so one step graph per
 * (batch, capacity) serves many positions; `reserve` grows the cache into the next bucket by copying.
 * The cache stays on the host: with onnxruntime-node every run copies inputs to the device anyway (no IO binding,
 * engine-notes.md pitfall 10).
 */
import type { FloatDType, HostTensor } from "../onnx/index.ts";
import type { LlamaConfig } from "../model/config.ts";
import { cacheMask, emptyCache, kvNames, prefillIntoCache, writeStepIntoCache } from "../model/llama-graph.ts";
import { EngineError, type CategoryByCode } from "../util/errors.ts";

export type KvCacheErrorCode = "CACHE_SHAPE" | "CONTEXT_FULL" | "INVALID_LENGTH";

export class KvCacheError extends EngineError<KvCacheErrorCode> {
  static override readonly category: CategoryByCode<KvCacheErrorCode> = {
    CACHE_SHAPE: "internal",
    CONTEXT_FULL: "context-exceeded",
    INVALID_LENGTH: "internal",
  };
}

/** Smallest power of two ≥ max(n, minimum), clamped to `limit`; an error when n > limit. */
export function bucketLength(n: number, minimum: number, limit: number): number {
  if (!Number.isInteger(n) || n < 1) throw new KvCacheError("INVALID_LENGTH", `length must be an integer ≥ 1, got ${n}`);
  if (n > limit) throw new KvCacheError("CONTEXT_FULL", `length ${n} exceeds the context of ${limit} positions`);
  let bucket = 1;
  while (bucket < Math.max(n, minimum)) bucket *= 2;
  return Math.min(bucket, limit);
}

type FloatArray = Float32Array | Float64Array;

export class KvCache {
  readonly config: LlamaConfig;
  readonly batch: number;
  readonly dtype: FloatDType;
  #capacity: number;
  #layers: { k: HostTensor; v: HostTensor }[];
  readonly #lengths: number[];

  /** An empty cache (every row at length 0). */
  constructor(config: LlamaConfig, batch: number, capacity: number, dtype: FloatDType) {
    if (!Number.isInteger(batch) || batch < 1) throw new KvCacheError("CACHE_SHAPE", `batch must be an integer ≥ 1, got ${batch}`);
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > config.maxSeqLen) {
      throw new KvCacheError("CACHE_SHAPE", `capacity must be an integer in [1, ${config.maxSeqLen}], got ${capacity}`);
    }
    this.config = config;
    this.batch = batch;
    this.dtype = dtype;
    this.#capacity = capacity;
    this.#layers = Array.from({ length: config.nLayers }, () => ({
      k: emptyCache(config, batch, capacity, dtype),
      v: emptyCache(config, batch, capacity, dtype),
    }));
    this.#lengths = new Array<number>(batch).fill(0);
  }

  /** Seeds a cache from a prefill run's `present_*` outputs; row r holds its first `lengths[r]` positions. */
  static fromPrefill(
    config: LlamaConfig,
    outputs: Readonly<Record<string, HostTensor>>,
    lengths: readonly number[],
    capacity: number,
    dtype: FloatDType,
  ): KvCache {
    const cache = new KvCache(config, lengths.length, capacity, dtype);
    let prefilled = capacity;
    cache.#layers.forEach(({ k, v }, layer) => {
      const names = kvNames(layer);
      const presentK = outputs[names.presentK];
      const presentV = outputs[names.presentV];
      if (!presentK || !presentV) throw new KvCacheError("CACHE_SHAPE", `prefill outputs lack ${names.presentK} / ${names.presentV}`);
      if (presentK.shape[2] > capacity) {
        throw new KvCacheError("CACHE_SHAPE", `prefill length ${presentK.shape[2]} exceeds the cache capacity ${capacity}`);
      }
      prefilled = presentK.shape[2];
      prefillIntoCache(k, presentK);
      prefillIntoCache(v, presentV);
    });
    lengths.forEach((n, r) => {
      if (!Number.isInteger(n) || n < 1 || n > prefilled) {
        throw new KvCacheError("INVALID_LENGTH", `row ${r}: length ${n} is outside [1, ${prefilled}] (the prefilled positions)`);
      }
      cache.#lengths[r] = n;
    });
    return cache;
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** Cached positions per row (= position of each row's next token). */
  get lengths(): readonly number[] {
    return this.#lengths;
  }

  /** Layer `layer`'s key and value tensors (views of the cache, not copies). */
  layer(layer: number): { readonly k: HostTensor; readonly v: HostTensor } {
    return this.#layers[layer];
  }

  /** A cache of `rows`·batch rows: row r·batch + b copies row b (a batch-1 prefill fanned out to a batch). */
  repeatRows(rows: number): KvCache {
    const out = new KvCache(this.config, this.batch * rows, this.#capacity, this.dtype);
    this.#layers.forEach((src, layer) => {
      for (const key of ["k", "v"] as const) {
        const from = src[key].data as FloatArray;
        const to = out.#layers[layer][key].data as FloatArray;
        for (let r = 0; r < rows; r++) to.set(from, r * from.length);
      }
    });
    for (let r = 0; r < rows; r++) for (let b = 0; b < this.batch; b++) out.#lengths[r * this.batch + b] = this.#lengths[b];
    return out;
  }

  /** Grows the capacity (by copying into a larger bucket) so every row can write one more position. */
  reserveNext(bucketMinimum = 16): void {
    const needed = Math.max(...this.#lengths) + 1;
    if (needed <= this.#capacity) return;
    const capacity = bucketLength(needed, bucketMinimum, this.config.maxSeqLen);
    this.#layers = this.#layers.map(({ k, v }) => {
      const nk = emptyCache(this.config, this.batch, capacity, this.dtype);
      const nv = emptyCache(this.config, this.batch, capacity, this.dtype);
      prefillIntoCache(nk, k);
      prefillIntoCache(nv, v);
      return { k: nk, v: nv };
    });
    this.#capacity = capacity;
  }

  /** Feeds of the step graph for the current state: past keys/values, `cache_mask`, `position`. */
  stepFeeds(): Record<string, HostTensor> {
    for (const [r, n] of this.#lengths.entries()) {
      if (n >= this.#capacity) throw new KvCacheError("CONTEXT_FULL", `row ${r} has filled the cache (${n} of ${this.#capacity}); call reserveNext first`);
    }
    const feeds: Record<string, HostTensor> = {
      cache_mask: cacheMask(this.#lengths, this.#capacity, this.dtype),
      position: { dtype: "int64", shape: [this.batch], data: BigInt64Array.from(this.#lengths, (n) => BigInt(n)) },
    };
    this.#layers.forEach(({ k, v }, layer) => {
      const names = kvNames(layer);
      feeds[names.pastK] = k;
      feeds[names.pastV] = v;
    });
    return feeds;
  }

  /** Writes a step's `new_k.{l}` / `new_v.{l}` at each row's length and advances every row by one. */
  append(outputs: Readonly<Record<string, HostTensor>>): void {
    this.#layers.forEach(({ k, v }, layer) => {
      const names = kvNames(layer);
      const newK = outputs[names.newK];
      const newV = outputs[names.newV];
      if (!newK || !newV) throw new KvCacheError("CACHE_SHAPE", `step outputs lack ${names.newK} / ${names.newV}`);
      writeStepIntoCache(k, newK, this.#lengths);
      writeStepIntoCache(v, newV, this.#lengths);
    });
    for (let r = 0; r < this.batch; r++) this.#lengths[r]++;
  }
}
