/**
 * @module engine/decode/decode-graph
 * One model (optionally with a PBLoRA or LoRA adapter) ready for KV-cache decoding: a prefill graph per
 * (batch, prompt-length bucket) and a decode-step graph per (batch, cache-capacity bucket), built on first use
 * and cached, so a bucket's session serves every later request of that shape.
 *
 * Graph inputs: frozen weights (as inputs by default, so every bucket's graph stays KB-sized and shares the host
 * weights; or as initializers), adapter tensors always as inputs, and α [batch, k] as an input for PBLoRA, so one
 * session serves every preference vector and each batch row may carry its own α.
 *
 * Logits come back as [batch, vocab] rows (the last prompt position for prefill, the fed token for a step), in
 * the graph dtype. `run` blocks the calling thread (engine-notes.md pitfall 9): interactive callers run the
 * engine in a worker thread.
 */
import type { FloatDType, HostTensor } from "../onnx/index.ts";
import type { LlamaConfig, ModelWeights } from "../model/config.ts";
import { buildDecodeStepGraph, buildPrefillGraph, type BuiltGraph, type WeightsPlacement } from "../model/llama-graph.ts";
import { adapterObjectives, adapterTensorShapes, validateAdapterSpec, type AdapterSpec } from "../model/pblora.ts";
import { createEngineSession, expectTensor, type EngineSession, type ExecutionProviderChoice, type GraphOptimizationLevel } from "../session/index.ts";
import { EngineError, type CategoryByCode } from "../util/errors.ts";
import { bucketLength, KvCache } from "./kv-cache.ts";

/** An adapter as decoding uses it: its spec and float32 tensors named as model/pblora.ts does. */
export interface DecodeAdapter {
  readonly spec: AdapterSpec;
  readonly tensors: ReadonlyMap<string, Float32Array>;
}

export interface CachedDecoderOptions {
  readonly dtype?: FloatDType;
  /** Frozen weights as graph inputs (default) or initializers (required for CUDA to keep them on the device). */
  readonly weightsAs?: WeightsPlacement;
  /** Adapter tensors as graph inputs (default: one graph per shape serves any adapter of the spec) or as
   *  initializers (the adapter is baked into each session, which lets onnxruntime fold its transposes). */
  readonly adapterAs?: "inputs" | "initializers";
  readonly threads?: number;
  readonly executionProvider?: ExecutionProviderChoice;
  readonly graphOptimizationLevel?: GraphOptimizationLevel;
  /** Let onnxruntime's thread pools spin-wait between runs (default false: guided decoding alternates sessions,
   *  see session/session.ts). */
  readonly allowSpinning?: boolean;
  /** Smallest prompt-length bucket (default 8) and cache-capacity bucket (default 32). */
  readonly minPromptBucket?: number;
  readonly minCacheBucket?: number;
}

export type DecoderInputErrorCode = "INVALID_ROWS" | "INVALID_ALPHA" | "INVALID_ADAPTER" | "PROMPT_TOO_LONG";

export class DecoderInputError extends EngineError<DecoderInputErrorCode> {
  static override readonly category: CategoryByCode<DecoderInputErrorCode> = {
    INVALID_ROWS: "internal",
    INVALID_ALPHA: "invalid-input",
    INVALID_ADAPTER: "invalid-input",
    PROMPT_TOO_LONG: "context-exceeded",
  };
}

/** Logits rows [batch, vocab] of one run. */
export interface DecoderLogits {
  readonly batch: number;
  readonly vocab: number;
  readonly data: Float32Array | Float64Array;
}

/** A model prepared for prefill + cached steps. Release it to free its sessions. */
export class CachedDecoder {
  readonly config: LlamaConfig;
  readonly adapter: DecodeAdapter | undefined;
  readonly dtype: FloatDType;
  /** Length of α, or 0 when the model takes none (no adapter, or plain LoRA). */
  readonly alphaSize: number;
  readonly #weights: ModelWeights;
  readonly #options: CachedDecoderOptions;
  readonly #sessions = new Map<string, Promise<{ session: EngineSession; graph: BuiltGraph }>>();
  readonly #adapterFeeds: Record<string, HostTensor>;
  #buildMs = 0;

  constructor(model: { readonly config: LlamaConfig; readonly weights: ModelWeights }, adapter?: DecodeAdapter, options: CachedDecoderOptions = {}) {
    this.config = model.config;
    this.#weights = model.weights;
    this.adapter = adapter;
    this.dtype = options.dtype ?? "float32";
    this.#options = options;
    this.alphaSize = adapter?.spec.mode === "pblora" ? adapterObjectives(adapter.spec) : 0;
    const checkedFeeds = adapter ? adapterTensorFeeds(model.config, adapter, this.dtype) : {};
    this.#adapterFeeds = options.adapterAs === "initializers" ? {} : checkedFeeds;
  }

  /** Milliseconds spent building graphs and creating sessions so far. */
  get graphBuildMs(): number {
    return this.#buildMs;
  }

  /** Number of sessions created (one per bucket used). */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /**
   * Runs the prompts (token ids, one row each, lengths ≥ 1, possibly different) through the prefill graph and
   * returns each row's next-token logits and a cache holding the prompts. `alphas` gives one α per row for PBLoRA.
   * Identical rows without α run once and are fanned out.
   */
  async prefill(rows: readonly (readonly number[])[], alphas?: readonly (readonly number[])[]): Promise<{ logits: DecoderLogits; cache: KvCache }> {
    checkPromptRows(this.config, rows);
    const alpha = alphaFeed(this.alphaSize, this.dtype, rows.length, alphas);
    if (!alpha && rows.length > 1 && rows.every((row) => sameIds(row, rows[0]))) {
      const single = await this.prefill([rows[0]]);
      return { logits: repeatLogits(single.logits, rows.length), cache: single.cache.repeatRows(rows.length) };
    }
    const lengths = rows.map((row) => row.length);
    const longest = Math.max(...lengths);
    const seqLen = bucketLength(longest, this.#options.minPromptBucket ?? 8, this.config.maxSeqLen);
    const { session, graph } = await this.#session("prefill", rows.length, seqLen);
    const ids = new BigInt64Array(rows.length * seqLen);
    rows.forEach((row, r) => row.forEach((id, t) => (ids[r * seqLen + t] = BigInt(id))));
    const feeds: Record<string, HostTensor> = {
      ...graph.frozenFeeds,
      ...this.#adapterFeeds,
      input_ids: { dtype: "int64", shape: [rows.length, seqLen], data: ids },
      positions: { dtype: "int64", shape: [rows.length, 1], data: BigInt64Array.from(lengths, (n) => BigInt(n - 1)) },
    };
    if (alpha) feeds.alpha = alpha;
    const out = await session.run(feeds);
    const capacity = bucketLength(Math.min(longest + 1, this.config.maxSeqLen), this.#options.minCacheBucket ?? 32, this.config.maxSeqLen);
    const cache = KvCache.fromPrefill(this.config, out, lengths, Math.max(capacity, seqLen), this.dtype);
    return { logits: this.#logits(out, rows.length), cache };
  }

  /** Feeds one token per row at each row's cached length, appends the new keys/values, returns next logits. */
  async step(cache: KvCache, tokens: readonly number[], alphas?: readonly (readonly number[])[]): Promise<DecoderLogits> {
    if (tokens.length !== cache.batch) throw new DecoderInputError("INVALID_ROWS", `step needs ${cache.batch} tokens (one per row), got ${tokens.length}`);
    checkTokenIds(this.config, tokens, "step token");
    const alpha = alphaFeed(this.alphaSize, this.dtype, cache.batch, alphas);
    cache.reserveNext(this.#options.minCacheBucket ?? 32);
    const { session, graph } = await this.#session("step", cache.batch, cache.capacity);
    const feeds: Record<string, HostTensor> = {
      ...graph.frozenFeeds,
      ...this.#adapterFeeds,
      ...cache.stepFeeds(),
      input_ids: { dtype: "int64", shape: [cache.batch, 1], data: BigInt64Array.from(tokens, (id) => BigInt(id)) },
    };
    if (alpha) feeds.alpha = alpha;
    const out = await session.run(feeds);
    cache.append(out);
    return this.#logits(out, cache.batch);
  }

  /** Creates the sessions a request of this shape will need up front (prompt bucket and cache buckets), for
   *  `batch` rows sharing one prompt (so a model without α prefills at batch 1). */
  async warm(batch: number, promptLength: number, totalLength: number): Promise<void> {
    const minCache = this.#options.minCacheBucket ?? 32;
    await this.#session("prefill", this.alphaSize === 0 ? 1 : batch, bucketLength(promptLength, this.#options.minPromptBucket ?? 8, this.config.maxSeqLen));
    const first = bucketLength(Math.min(promptLength + 1, this.config.maxSeqLen), minCache, this.config.maxSeqLen);
    for (let capacity = first; ; capacity = Math.min(capacity * 2, this.config.maxSeqLen)) {
      await this.#session("step", batch, capacity);
      if (capacity >= totalLength || capacity >= this.config.maxSeqLen) break;
    }
  }

  async release(): Promise<void> {
    const entries = [...this.#sessions.values()];
    this.#sessions.clear();
    for (const entry of entries) await (await entry).session.release();
  }

  #logits(out: Record<string, HostTensor>, batch: number): DecoderLogits {
    const logits = expectTensor("logits", out.logits, this.dtype, this.#logitsShape(out.logits, batch));
    return { batch, vocab: this.config.vocabSize, data: logits.data as Float32Array | Float64Array };
  }

  #logitsShape(t: HostTensor | undefined, batch: number): number[] {
    return t && t.shape.length === 3 ? [batch, 1, this.config.vocabSize] : [batch, this.config.vocabSize];
  }

  #session(kind: "prefill" | "step", batch: number, length: number): Promise<{ session: EngineSession; graph: BuiltGraph }> {
    const key = `${kind}:${batch}x${length}`;
    let entry = this.#sessions.get(key);
    if (!entry) {
      entry = this.#createSession(kind, batch, length);
      this.#sessions.set(key, entry);
      entry.catch(() => this.#sessions.delete(key));
    }
    return entry;
  }

  async #createSession(kind: "prefill" | "step", batch: number, length: number): Promise<{ session: EngineSession; graph: BuiltGraph }> {
    const started = performance.now();
    const adapter = this.adapter
      ? {
          spec: this.adapter.spec,
          placement: this.#options.adapterAs === "initializers" ? { as: "initializers" as const, tensors: this.adapter.tensors } : { as: "inputs" as const },
        }
      : undefined;
    const weightsAs = this.#options.weightsAs ?? "inputs";
    const graph =
      kind === "prefill"
        ? buildPrefillGraph(this.config, this.#weights, { batch, seqLen: length, positions: 1, dtype: this.dtype, weightsAs, adapter })
        : buildDecodeStepGraph(this.config, this.#weights, { batch, cacheLen: length, dtype: this.dtype, weightsAs, adapter });
    const session = await createEngineSession(graph, {
      executionProvider: this.#options.executionProvider ?? "cpu",
      ...(this.#options.threads !== undefined ? { intraOpNumThreads: this.#options.threads } : {}),
      ...(this.#options.graphOptimizationLevel !== undefined ? { graphOptimizationLevel: this.#options.graphOptimizationLevel } : {}),
      ...(this.#options.allowSpinning !== undefined ? { allowSpinning: this.#options.allowSpinning } : {}),
    });
    this.#buildMs += performance.now() - started;
    return { session, graph };
  }
}

/** Prompt rows: at least one, each non-empty, shorter than the context, ids in the vocabulary. */
export function checkPromptRows(config: LlamaConfig, rows: readonly (readonly number[])[]): void {
  if (!Array.isArray(rows) || rows.length === 0) throw new DecoderInputError("INVALID_ROWS", "prefill needs at least one row of token ids");
  rows.forEach((row, r) => {
    if (!Array.isArray(row) || row.length === 0) throw new DecoderInputError("INVALID_ROWS", `row ${r} is empty: a prompt needs at least one token (e.g. BOS)`);
    if (row.length >= config.maxSeqLen) {
      throw new DecoderInputError("PROMPT_TOO_LONG", `row ${r} has ${row.length} tokens; the model's context is ${config.maxSeqLen} and generation needs room for one more`);
    }
    checkTokenIds(config, row, `row ${r} token`);
  });
}

export function checkTokenIds(config: LlamaConfig, ids: readonly number[], what: string): void {
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= config.vocabSize) {
      throw new DecoderInputError("INVALID_ROWS", `${what} ${i} is ${id}, outside the vocabulary [0, ${config.vocabSize})`);
    }
  });
}

/** The α feed [batch, k] for a model taking `alphaSize` weights (0: none, and α must be absent or empty). */
export function alphaFeed(alphaSize: number, dtype: FloatDType, batch: number, alphas: readonly (readonly number[])[] | undefined): HostTensor | undefined {
  if (alphaSize === 0) {
    if (alphas !== undefined && alphas.some((a) => a.length > 0)) {
      throw new DecoderInputError("INVALID_ALPHA", "this model has no PBLoRA adapter and takes no α");
    }
    return undefined;
  }
  if (!alphas || alphas.length !== batch) {
    throw new DecoderInputError("INVALID_ALPHA", `a PBLoRA model needs one α per row (${batch} rows), got ${alphas?.length ?? 0}`);
  }
  const k = alphaSize;
  const data = dtype === "float32" ? new Float32Array(batch * k) : new Float64Array(batch * k);
  alphas.forEach((a, r) => {
    if (a.length !== k) throw new DecoderInputError("INVALID_ALPHA", `α of row ${r} has ${a.length} entries, the adapter has ${k} objectives`);
    a.forEach((v, i) => {
      if (!Number.isFinite(v)) throw new DecoderInputError("INVALID_ALPHA", `α[${r}][${i}] is ${v}, expected a finite number`);
      data[r * k + i] = v;
    });
  });
  return { dtype, shape: [batch, k], data };
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

function repeatLogits(logits: DecoderLogits, rows: number): DecoderLogits {
  const data = logits.data instanceof Float32Array ? new Float32Array(logits.data.length * rows) : new Float64Array(logits.data.length * rows);
  for (let r = 0; r < rows; r++) data.set(logits.data, r * logits.data.length);
  return { batch: logits.batch * rows, vocab: logits.vocab, data };
}

/** The adapter's tensors as graph feeds in `dtype`, checked against the spec's shapes. */
export function adapterTensorFeeds(config: LlamaConfig, adapter: DecodeAdapter, dtype: FloatDType): Record<string, HostTensor> {
  try {
    validateAdapterSpec(adapter.spec);
  } catch (cause) {
    throw new DecoderInputError("INVALID_ADAPTER", `invalid adapter spec: ${(cause as Error).message}`, { cause });
  }
  const feeds: Record<string, HostTensor> = {};
  const shapes = adapterTensorShapes(config, adapter.spec);
  for (const [name, shape] of shapes) {
    const data = adapter.tensors.get(name);
    if (!data) throw new DecoderInputError("INVALID_ADAPTER", `adapter tensor "${name}" [${shape.join(",")}] is missing`);
    if (data.length !== shape[0] * shape[1]) {
      throw new DecoderInputError("INVALID_ADAPTER", `adapter tensor "${name}" has ${data.length} values, expected [${shape.join(",")}]`);
    }
    feeds[name] = { dtype, shape, data: dtype === "float32" ? data : Float64Array.from(data) };
  }
  for (const name of adapter.tensors.keys()) {
    if (!shapes.has(name)) throw new DecoderInputError("INVALID_ADAPTER", `adapter tensor "${name}" does not belong to this spec and model`);
  }
  return feeds;
}
