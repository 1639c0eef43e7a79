/**
 * @module engine/decode/device-kv-cache
 * A KV cache that stays where the sessions compute (issue 15 item 2): on WebGPU, GPU buffers fed from one decoding
 * step to the next, so per step only the token ids, the cache mask and the positions go to the device. It pairs
 * with the reference step graph (model/llama-graph.ts `buildDecodeStepGraph`, run with `deviceOutputs` naming its
 * `new_k.{l}` / `new_v.{l}`) and adds one small graph, the cache update:
 *
 *   inputs   past_k.{l}, past_v.{l} [B, Hkv, C, D];  new_k.{l}, new_v.{l} [B, Hkv, 1, D];  position [B] int64
 *   outputs  present_k.{l}, present_v.{l} [B, Hkv, C, D] = past with row b's new entry written at position[b]
 *            (ScatterElements on the capacity axis)
 *
 * kept on the device too. The capacity is fixed per cache (no growth): size it for prompt + new tokens. The update
 * writes a new buffer per layer each step (onnxruntime does not update an input in place), i.e. device-memory
 * traffic of twice the cache per step; the host round trip of the KvCache path is gone.
 */
import type { LlamaConfig } from "../model/config.ts";
import { cacheMask, kvNames } from "../model/llama-graph.ts";
import { GraphBuilder, type SerializedModel } from "../onnx/index.ts";
import { createEngineSession, DeviceTensor, type EngineSession, type ExecutionProviderName, type HostTensor } from "../session/index.ts";
import { KvCache, KvCacheError } from "./kv-cache.ts";

/** The cache-update graph for one (batch, capacity) of `config` (float32). */
export function buildCacheUpdateGraph(config: LlamaConfig, batch: number, capacity: number): SerializedModel {
  const { nKvHeads, headDim, nLayers } = config;
  const b = new GraphBuilder("kv-cache-update");
  const position = b.input("position", "int64", [batch]);
  const index = b.expand(b.reshape(position, [batch, 1, 1, 1]), [batch, nKvHeads, 1, headDim]);
  for (let layer = 0; layer < nLayers; layer++) {
    const names = kvNames(layer);
    for (const [past, fresh, present] of [
      [names.pastK, names.newK, names.presentK],
      [names.pastV, names.newV, names.presentV],
    ] as const) {
      const cache = b.input(past, "float32", [batch, nKvHeads, capacity, headDim]);
      const update = b.input(fresh, "float32", [batch, nKvHeads, 1, headDim]);
      b.output(b.scatterElements(cache, index, update, 2, "none"), present);
    }
  }
  return b.serialize();
}

/** Names of the step graph's new keys/values, for its `deviceOutputs`. */
export function newKvNames(config: LlamaConfig): string[] {
  return Array.from({ length: config.nLayers }, (_, l) => [kvNames(l).newK, kvNames(l).newV]).flat();
}

/** Per-layer caches as DeviceTensors (host tensors until the first update), each row's length, the update session. */
export class DeviceKvCache {
  readonly config: LlamaConfig;
  readonly batch: number;
  readonly capacity: number;
  readonly #lengths: number[];
  #layers: { k: HostTensor | DeviceTensor; v: HostTensor | DeviceTensor }[];
  readonly #update: EngineSession;

  private constructor(config: LlamaConfig, start: KvCache, lengths: readonly number[], update: EngineSession) {
    this.config = config;
    this.batch = start.batch;
    this.capacity = start.capacity;
    this.#lengths = [...lengths];
    const feeds = start.stepFeeds();
    this.#layers = Array.from({ length: config.nLayers }, (_, l) => ({ k: feeds[kvNames(l).pastK], v: feeds[kvNames(l).pastV] }));
    this.#update = update;
  }

  /** Starts from a prefilled host cache (`KvCache.fromPrefill`, float32, `lengths` its rows' lengths); the update
   *  session runs on `provider` and keeps its outputs there. */
  static async fromHost(config: LlamaConfig, start: KvCache, lengths: readonly number[], provider: ExecutionProviderName): Promise<DeviceKvCache> {
    if (lengths.length !== start.batch) throw new KvCacheError("INVALID_LENGTH", `${lengths.length} lengths for ${start.batch} rows`);
    const outputs = Array.from({ length: config.nLayers }, (_, l) => [kvNames(l).presentK, kvNames(l).presentV]).flat();
    const update = await createEngineSession(buildCacheUpdateGraph(config, start.batch, start.capacity), { executionProvider: provider, deviceOutputs: outputs });
    return new DeviceKvCache(config, start, lengths, update);
  }

  get lengths(): readonly number[] {
    return this.#lengths;
  }

  /** Feeds of the step graph: the caches, `cache_mask` and `position` (host, [batch] values). */
  stepFeeds(): Record<string, HostTensor | DeviceTensor> {
    this.#lengths.forEach((n, r) => {
      if (n >= this.capacity) throw new KvCacheError("CONTEXT_FULL", `row ${r} has filled the device cache (${n} of ${this.capacity})`);
    });
    const feeds: Record<string, HostTensor | DeviceTensor> = {
      cache_mask: cacheMask(this.#lengths, this.capacity, "float32"),
      position: this.#positions(),
    };
    this.#layers.forEach(({ k, v }, l) => {
      feeds[kvNames(l).pastK] = k;
      feeds[kvNames(l).pastV] = v;
    });
    return feeds;
  }

  /** Writes a step's new keys/values (its `deviceOutputs`) at each row's length on the device, disposes them and
   *  the previous caches, and advances every row by one. */
  async append(fresh: Readonly<Record<string, DeviceTensor>>): Promise<void> {
    const feeds: Record<string, HostTensor | DeviceTensor> = { position: this.#positions() };
    this.#layers.forEach(({ k, v }, l) => {
      const names = kvNames(l);
      if (!fresh[names.newK] || !fresh[names.newV]) throw new KvCacheError("CACHE_SHAPE", `step outputs lack ${names.newK} / ${names.newV} (name them in deviceOutputs)`);
      Object.assign(feeds, { [names.pastK]: k, [names.pastV]: v, [names.newK]: fresh[names.newK], [names.newV]: fresh[names.newV] });
    });
    const { device } = await this.#update.runKeeping(feeds);
    const previous = this.#layers;
    this.#layers = previous.map((_, l) => ({ k: device[kvNames(l).presentK], v: device[kvNames(l).presentV] }));
    for (const { k, v } of previous) for (const t of [k, v]) if (t instanceof DeviceTensor) t.dispose();
    for (const t of Object.values(fresh)) t.dispose();
    for (let r = 0; r < this.batch; r++) this.#lengths[r]++;
  }

  async release(): Promise<void> {
    for (const { k, v } of this.#layers) for (const t of [k, v]) if (t instanceof DeviceTensor) t.dispose();
    this.#layers = [];
    await this.#update.release();
  }

  #positions(): HostTensor {
    return { dtype: "int64", shape: [this.batch], data: BigInt64Array.from(this.#lengths, (n) => BigInt(n)) };
  }
}
