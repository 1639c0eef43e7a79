/**
 * @module engine/decode/fast-decoder
 * A model (optionally with a PBLoRA or LoRA adapter) decoding through the fast graph of model/llm-decode-graph.ts:
 * one session for prefill and every step, whatever the batch, prompt length or cache length.
 *
 * The KV cache (`FastKvCache`) is a host buffer per layer [batch, nKvHeads, capacity, headDim] fed to the graph as
 * `past_*` without a copy (onnxruntime-node wraps input arrays). The graph returns only the new tokens' keys and
 * values, which `write` puts at each row's positions; capacity grows by doubling (`bucketLength`), the only time
 * the cache is copied on the host. Why not GroupQueryAttention's shared past/present buffer: onnxruntime-node 1.30
 * copies every fetched output, pre-allocated ones included, into a new JavaScript array after each run, so a
 * shared buffer fetched as `present_*` costs a copy of the whole capacity per step; measured in docs/engine.md §7.
 * Inside the kernel, GroupQueryAttention then copies each row's cached positions into its present buffer
 * (native memcpy of the row's length).
 *
 * Logits come back as float32 rows [batch, vocab]. `run` blocks the calling thread (engine-notes.md pitfall 9).
 */
import type { HostTensor } from "../onnx/index.ts";
import type { LlamaConfig, ModelWeights } from "../model/config.ts";
import { decodeWeightsFromModel, matrixRow, type DecodeWeights, type WeightQuantization } from "../model/decode-weights.ts";
import { buildLlmDecodeGraph, LLM_IO, type MatMulNBitsAccuracy } from "../model/llm-decode-graph.ts";
import { adapterObjectives } from "../model/pblora.ts";
import { createEngineSession, type EngineSession, type ExecutionProviderChoice, type GraphOptimizationLevel } from "../session/index.ts";
import { adapterTensorFeeds, alphaFeed, checkPromptRows, checkTokenIds, DecoderInputError, type DecodeAdapter, type DecoderLogits } from "./decode-graph.ts";
import { bucketLength, KvCacheError } from "./kv-cache.ts";

export interface FastDecoderOptions {
  readonly threads?: number;
  readonly executionProvider?: ExecutionProviderChoice;
  readonly graphOptimizationLevel?: GraphOptimizationLevel;
  readonly allowSpinning?: boolean;
  /** Smallest cache capacity (default 32). */
  readonly minCacheBucket?: number;
  /** Float weights as they are (default) or quantized on load for MatMulNBits. */
  readonly weightQuantization?: WeightQuantization;
  /** Quantized matrices: float32 or int8 activations (default int8, model/llm-decode-graph.ts). */
  readonly matMulNBitsAccuracy?: MatMulNBitsAccuracy;
}

/** What the fast path needs of a model: float weights, or decode weights (e.g. a quantized GGUF kept quantized). */
export interface FastDecodeModel {
  readonly config: LlamaConfig;
  readonly weights?: ModelWeights;
  readonly decodeWeights?: DecodeWeights;
}

/** Per-layer host KV buffers [batch, nKvHeads, capacity, headDim] and each row's cached length. */
export class FastKvCache {
  readonly config: LlamaConfig;
  readonly batch: number;
  #capacity: number;
  #layers: { k: Float32Array; v: Float32Array }[];
  readonly #lengths: number[];

  constructor(config: LlamaConfig, batch: number, capacity: number) {
    this.config = config;
    this.batch = batch;
    this.#capacity = capacity;
    const n = batch * config.nKvHeads * capacity * config.headDim;
    this.#layers = Array.from({ length: config.nLayers }, () => ({ k: new Float32Array(n), v: new Float32Array(n) }));
    this.#lengths = new Array<number>(batch).fill(0);
  }

  get capacity(): number {
    return this.#capacity;
  }

  get lengths(): readonly number[] {
    return this.#lengths;
  }

  /** Bytes of the key/value buffers. */
  get bytes(): number {
    return this.#layers.reduce((n, l) => n + l.k.byteLength + l.v.byteLength, 0);
  }

  /** Grows the capacity (copying into a larger bucket) so every row can take `extra` more positions. */
  reserve(extra: number, minimum: number): void {
    const needed = Math.max(...this.#lengths) + extra;
    if (needed > this.config.maxSeqLen) throw new KvCacheError("CONTEXT_FULL", `${needed} positions exceed the context of ${this.config.maxSeqLen}`);
    if (needed <= this.#capacity) return;
    const capacity = bucketLength(needed, minimum, this.config.maxSeqLen);
    const { nKvHeads, headDim: hd } = this.config;
    this.#layers = this.#layers.map(({ k, v }) => {
      const grow = (src: Float32Array) => {
        const dst = new Float32Array(this.batch * nKvHeads * capacity * hd);
        for (let r = 0; r < this.batch * nKvHeads; r++) dst.set(src.subarray(r * this.#capacity * hd, (r + 1) * this.#capacity * hd), r * capacity * hd);
        return dst;
      };
      return { k: grow(k), v: grow(v) };
    });
    this.#capacity = capacity;
  }

  /** The cache as `past_*` feeds (views of the buffers, not copies). */
  feeds(): Record<string, HostTensor> {
    const shape = [this.batch, this.config.nKvHeads, this.#capacity, this.config.headDim];
    const out: Record<string, HostTensor> = {};
    this.#layers.forEach(({ k, v }, l) => {
      out[LLM_IO.pastKey(l)] = { dtype: "float32", shape, data: k };
      out[LLM_IO.pastValue(l)] = { dtype: "float32", shape, data: v };
    });
    return out;
  }

  /** Writes the run's `new_*` [B,S,nKvHeads·headDim] for each row's first `counts[b]` tokens at its length, and
   *  advances the row by that many positions. */
  write(outputs: Readonly<Record<string, HostTensor>>, seqLen: number, counts: readonly number[]): void {
    const { nKvHeads, headDim: hd } = this.config;
    const cap = this.#capacity;
    this.#layers.forEach(({ k, v }, l) => {
      for (const [buffer, name] of [[k, LLM_IO.newKey(l)], [v, LLM_IO.newValue(l)]] as const) {
        const src = outputs[name]?.data as Float32Array | undefined;
        if (!src || src.length !== this.batch * seqLen * nKvHeads * hd) throw new KvCacheError("CACHE_SHAPE", `output ${name} is missing or not [${this.batch}, ${seqLen}, ${nKvHeads * hd}]`);
        for (let b = 0; b < this.batch; b++) {
          for (let s = 0; s < counts[b]; s++) {
            const pos = this.#lengths[b] + s;
            for (let h = 0; h < nKvHeads; h++) {
              const from = ((b * seqLen + s) * nKvHeads + h) * hd;
              buffer.set(src.subarray(from, from + hd), ((b * nKvHeads + h) * cap + pos) * hd);
            }
          }
        }
      }
    });
    counts.forEach((n, b) => (this.#lengths[b] += n));
  }

  /** A cache of `rows`·batch rows: row r·batch + b copies row b. */
  repeatRows(rows: number): FastKvCache {
    const out = new FastKvCache(this.config, this.batch * rows, this.#capacity);
    this.#layers.forEach(({ k, v }, l) => {
      for (let r = 0; r < rows; r++) {
        out.#layers[l].k.set(k, r * k.length);
        out.#layers[l].v.set(v, r * v.length);
      }
    });
    for (let r = 0; r < rows; r++) for (let b = 0; b < this.batch; b++) out.#lengths[r * this.batch + b] = this.#lengths[b];
    return out;
  }
}

export class FastDecoder {
  readonly config: LlamaConfig;
  readonly adapter: DecodeAdapter | undefined;
  readonly alphaSize: number;
  readonly weights: DecodeWeights;
  readonly #options: FastDecoderOptions;
  #session: Promise<EngineSession> | undefined;
  #buildMs = 0;

  constructor(model: FastDecodeModel, adapter?: DecodeAdapter, options: FastDecoderOptions = {}) {
    this.config = model.config;
    this.adapter = adapter;
    this.#options = options;
    this.alphaSize = adapter?.spec.mode === "pblora" ? adapterObjectives(adapter.spec) : 0;
    if (adapter) adapterTensorFeeds(model.config, adapter, "float32"); // checks spec and tensor shapes
    if (model.decodeWeights) this.weights = model.decodeWeights;
    else if (model.weights) this.weights = decodeWeightsFromModel(model.config, model.weights, options.weightQuantization ?? "none");
    else throw new DecoderInputError("INVALID_ROWS", "a model for the fast decode path needs weights or decodeWeights");
  }

  get graphBuildMs(): number {
    return this.#buildMs;
  }

  get sessionCount(): number {
    return this.#session ? 1 : 0;
  }

  async prefill(rows: readonly (readonly number[])[], alphas?: readonly (readonly number[])[]): Promise<{ logits: DecoderLogits; cache: FastKvCache }> {
    checkPromptRows(this.config, rows);
    const alpha = alphaFeed(this.alphaSize, "float32", rows.length, alphas);
    if (!alpha && rows.length > 1 && rows.every((row) => row.length === rows[0].length && row.every((id, i) => id === rows[0][i]))) {
      const single = await this.prefill([rows[0]]);
      const data = new Float32Array(single.logits.data.length * rows.length);
      for (let r = 0; r < rows.length; r++) data.set(single.logits.data, r * single.logits.data.length);
      return { logits: { batch: rows.length, vocab: single.logits.vocab, data }, cache: single.cache.repeatRows(rows.length) };
    }
    const lengths = rows.map((row) => row.length);
    const seqLen = Math.max(...lengths);
    const minBucket = this.#options.minCacheBucket ?? 32;
    const cache = new FastKvCache(this.config, rows.length, bucketLength(Math.min(seqLen + 1, this.config.maxSeqLen), minBucket, this.config.maxSeqLen));
    const ids = rows.map((row) => [...row, ...new Array<number>(seqLen - row.length).fill(0)]);
    const positions = rows.map(() => Array.from({ length: seqLen }, (_, s) => s));
    const out = await this.#run(cache, ids, positions, lengths.map((n) => n - 1), seqLen, lengths.map((n, b) => b * seqLen + n - 1), alpha);
    cache.write(out, seqLen, lengths);
    return { logits: this.#logits(out, rows.length), cache };
  }

  async step(cache: FastKvCache, tokens: readonly number[], alphas?: readonly (readonly number[])[]): Promise<DecoderLogits> {
    if (tokens.length !== cache.batch) throw new DecoderInputError("INVALID_ROWS", `step needs ${cache.batch} tokens (one per row), got ${tokens.length}`);
    checkTokenIds(this.config, tokens, "step token");
    const alpha = alphaFeed(this.alphaSize, "float32", cache.batch, alphas);
    cache.reserve(1, this.#options.minCacheBucket ?? 32);
    const lengths = cache.lengths;
    const out = await this.#run(cache, tokens.map((t) => [t]), lengths.map((n) => [n]), [...lengths], Math.max(...lengths) + 1, tokens.map((_, b) => b), alpha);
    cache.write(out, 1, tokens.map(() => 1));
    return this.#logits(out, cache.batch);
  }

  /** Creates the one session up front (it serves every shape, so the arguments of CachedDecoder.warm are not needed). */
  async warm(_batch?: number, _promptLength?: number, _totalLength?: number): Promise<void> {
    await this.#sessionOnce();
  }

  async release(): Promise<void> {
    const s = this.#session;
    this.#session = undefined;
    if (s) await (await s).release();
  }

  async #run(
    cache: FastKvCache,
    ids: readonly (readonly number[])[],
    positions: readonly (readonly number[])[],
    seqlensK: readonly number[],
    total: number,
    logitRows: readonly number[],
    alpha: HostTensor | undefined,
  ): Promise<Record<string, HostTensor>> {
    const session = await this.#sessionOnce();
    const B = ids.length;
    const S = ids[0].length;
    const dim = this.config.dim;
    const embeds = new Float32Array(B * S * dim);
    const table = this.weights.matrices.get("tok_embeddings")!;
    ids.forEach((row, b) => row.forEach((id, s) => matrixRow(table, id, embeds, (b * S + s) * dim)));
    const feeds: Record<string, HostTensor> = {
      ...cache.feeds(),
      [LLM_IO.embeds]: { dtype: "float32", shape: [B, S, dim], data: embeds },
      [LLM_IO.positions]: { dtype: "int64", shape: [B, S], data: BigInt64Array.from(positions.flat(), (p) => BigInt(p)) },
      [LLM_IO.seqlens]: { dtype: "int32", shape: [B], data: Int32Array.from(seqlensK) },
      [LLM_IO.total]: { dtype: "int32", shape: [], data: Int32Array.of(total) },
      [LLM_IO.logitRows]: { dtype: "int64", shape: [logitRows.length], data: BigInt64Array.from(logitRows, (r) => BigInt(r)) },
    };
    if (alpha) feeds[LLM_IO.alpha] = alpha;
    return session.run(feeds);
  }

  #sessionOnce(): Promise<EngineSession> {
    if (!this.#session) {
      const started = performance.now();
      const tensors = this.adapter ? this.adapter : undefined;
      const accuracy = this.#options.matMulNBitsAccuracy ?? "int8";
      const model = buildLlmDecodeGraph(this.config, this.weights, tensors ? { adapter: tensors, matMulNBitsAccuracy: accuracy } : { matMulNBitsAccuracy: accuracy });
      this.#session = createEngineSession(model, {
        executionProvider: this.#options.executionProvider ?? "cpu",
        ...(this.#options.threads !== undefined ? { intraOpNumThreads: this.#options.threads } : {}),
        ...(this.#options.graphOptimizationLevel !== undefined ? { graphOptimizationLevel: this.#options.graphOptimizationLevel } : {}),
        ...(this.#options.allowSpinning !== undefined ? { allowSpinning: this.#options.allowSpinning } : {}),
      }).then((s) => {
        this.#buildMs += performance.now() - started;
        return s;
      });
      this.#session.catch(() => (this.#session = undefined));
    }
    return this.#session;
  }

  #logits(out: Record<string, HostTensor>, batch: number): DecoderLogits {
    const t = out[LLM_IO.logits];
    if (!t || t.dtype !== "float32" || t.shape[0] !== batch || t.shape[1] !== this.config.vocabSize) {
      throw new KvCacheError("CACHE_SHAPE", `logits: expected float32 [${batch}, ${this.config.vocabSize}], got ${t ? `${t.dtype} [${t.shape.join(",")}]` : "nothing"}`);
    }
    return { batch, vocab: this.config.vocabSize, data: t.data as Float32Array };
  }
}
