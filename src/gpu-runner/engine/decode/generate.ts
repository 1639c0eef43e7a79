/**
 * @module engine/decode/generate
 * Guided, α-batched generation with KV caches (parm-method.md §3, design.md §5).
 *
 * Per step, for every batch row b with preference α_b:
 *   none:    scores = base logits
 *   PARM:    log p̃ = log_softmax(base) + (1/β)·log_softmax(ARM(·|α_b)), renormalised
 *   GenARM:  log p̃ = log_softmax(base) + Σ_i (α_b,i/β)·log_softmax(ARM_i), renormalised
 * then the row's own TokenSampler (greedy, or temperature → top-k → top-p with the request's seed: every row
 * starts from the same seed, so a row of a batch equals a separate run with its α) and its StopCriteria
 * (EOS ids, stop strings, max new tokens, the models' context).
 *
 * One request is one prompt and n preference vectors: the batch holds n rows, the PBLoRA ARM takes α as a
 * [n, k] graph input, so an α sweep is one batched run. Rows that finish keep riding along (their tokens are
 * ignored) until every row has finished. Base and ARMs may differ in size but must share a vocabulary
 * (`assertSharedVocabulary`). Each model keeps its own cache; all run on the calling thread (use a worker
 * thread for interactive serving, engine-notes.md pitfall 9).
 */
import type { LlamaConfig, ModelWeights } from "../model/config.ts";
import type { Tokenizer } from "../model/tokenizer.ts";
import { CancelledError } from "../util/abort.ts";
import { EngineError, UnreachableCaseError, type CategoryByCode } from "../util/errors.ts";
import { combineGenArmBatch, combineParmBatch, truncateVocab } from "./guidance.ts";
import { TokenSampler, validateSamplingConfig, type SamplingConfig } from "./sampling.ts";
import { StopCriteria, type StopReason } from "./stop.ts";
import { CachedDecoder, type CachedDecoderOptions, type DecodeAdapter, type DecoderLogits } from "./decode-graph.ts";
import { assertSharedVocabulary } from "./vocabulary.ts";
import { FastDecoder, type FastDecodeModel } from "./fast-decoder.ts";
import { llmDecodeUnsupported, type MatMulNBitsAccuracy } from "../model/llm-decode-graph.ts";
import type { DecodeWeights, WeightQuantization } from "../model/decode-weights.ts";

/** What generation needs of a loaded model (a `LoadedModel` fits). `decodeWeights`, when present, is what the fast
 *  path reads (a quantized GGUF kept quantized: model/gguf-quantized.ts, whose `weights` dequantize on demand for
 *  the reference path). */
export interface DecodeModel {
  readonly config: LlamaConfig;
  readonly weights: ModelWeights;
  readonly decodeWeights?: DecodeWeights;
  readonly tokenizer: Tokenizer;
}

/** PARM: one ARM (a backbone, possibly the base itself, plus a PBLoRA adapter taking α). */
export interface ParmArm {
  readonly model: DecodeModel;
  readonly adapter: DecodeAdapter;
}

/** GenARM: k single-objective ARMs (a backbone plus an optional plain LoRA adapter each), weighted by α_i/β. */
export interface GenArmGuides {
  readonly genarm: readonly { readonly model: DecodeModel; readonly adapter?: DecodeAdapter }[];
}

/** The models, plus session options shared by every model's decoder (`threads`: onnxruntime intra-op threads per
 *  session, default all cores; `weightsAs`, `dtype`, bucket minima: see CachedDecoderOptions). */
export interface GeneratorOptions extends CachedDecoderOptions {
  readonly base: DecodeModel;
  readonly arm?: ParmArm | GenArmGuides;
  /** Decode through onnxruntime's LLM kernels (decode/fast-decoder.ts) or through the plain-op reference graphs
   *  (false). Default: the fast path for float32 models it supports (llmDecodeUnsupported), else the reference. */
  readonly fastDecode?: boolean;
  /** Fast path: float weights as they are (default) or quantized on load (`q8`, `q4`, MatMulNBits). */
  readonly weightQuantization?: WeightQuantization;
  /** Fast path, quantized matrices: float32 or int8 activations (default int8). */
  readonly matMulNBitsAccuracy?: MatMulNBitsAccuracy;
}

/** What the generator drives: CachedDecoder (reference) or FastDecoder, each with its own cache type. */
interface StepDecoder {
  readonly config: LlamaConfig;
  prefill(rows: readonly (readonly number[])[], alphas?: readonly (readonly number[])[]): Promise<{ logits: DecoderLogits; cache: unknown }>;
  step(cache: unknown, tokens: readonly number[], alphas?: readonly (readonly number[])[]): Promise<DecoderLogits>;
  warm(batch: number, promptLength: number, totalLength: number): Promise<void>;
  release(): Promise<void>;
}

/** The decoder of one model under the generator's options. */
function makeDecoder(model: DecodeModel, adapter: DecodeAdapter | undefined, options: GeneratorOptions): StepDecoder {
  const float32 = (options.dtype ?? "float32") === "float32";
  const unsupported = float32 ? llmDecodeUnsupported(model.config) : "it runs float32 only";
  const fast = options.fastDecode ?? unsupported === undefined;
  if (fast) {
    if (unsupported) throw new GenerateRequestError("INVALID_GUIDANCE", `fastDecode cannot run this model: ${unsupported}`);
    const fastModel: FastDecodeModel = model.decodeWeights ? { config: model.config, decodeWeights: model.decodeWeights } : { config: model.config, weights: model.weights };
    return new FastDecoder(fastModel, adapter, options) as StepDecoder;
  }
  return new CachedDecoder({ config: model.config, weights: model.weights }, adapter, options) as StepDecoder;
}

export type GuidanceMode = "none" | "parm" | "genarm";

/** The per-row seed offsets of a request (zeros when not given); GenerateRequestError when malformed. */
function rowSeedOffsets(offsets: readonly number[] | undefined, rows: number): readonly number[] {
  if (offsets === undefined) return new Array<number>(rows).fill(0);
  if (offsets.length !== rows || !offsets.every((o) => Number.isSafeInteger(o))) {
    throw new GenerateRequestError("INVALID_REQUEST", `rowSeedOffsets must hold one safe integer per row (${rows}), got ${JSON.stringify(offsets)}`);
  }
  return offsets;
}

export interface GenerateRequest {
  /** Text (encoded with the base tokenizer, BOS prepended unless addBos is false) or token ids used as given. */
  readonly prompt: string | { readonly tokenIds: readonly number[] };
  readonly addBos?: boolean;
  /** When set, a longer prompt keeps its last maxPromptTokens tokens (a leading BOS stays first and counts):
   *  evaluation sweeps answer the last turn of long conversations. Unset: the prompt is used whole and one that
   *  leaves no room in the context is PROMPT_TOO_LONG. An integer ≥ 1. */
  readonly maxPromptTokens?: number;
  /** One output per α, all in one batch. PARM: k = the adapter's objectives; GenARM: k = number of ARMs;
   *  unguided: omit (one output) or give empty vectors (one output each). */
  readonly alphas?: readonly (readonly number[])[];
  /** Guidance strength: weight 1/β on the ARM (default 1; Infinity = no guidance). */
  readonly beta?: number;
  /** Default greedy. */
  readonly sampling?: SamplingConfig;
  /** Added to the sampling seed per row (one per α, safe integers; default 0 for every row, so a row of a batch
   *  equals a separate run with its α): repeated α with offsets 0, 1, … give independent samples. */
  readonly rowSeedOffsets?: readonly number[];
  readonly stop?: readonly string[];
  readonly maxNewTokens: number;
  /** true: a prompt that leaves fewer than maxNewTokens positions in the context is PROMPT_TOO_LONG (generation
   *  jobs promise maxNewTokens); default false: its rows end early with finishReason "context-length". */
  readonly requireMaxNewTokens?: boolean;
  /** Token ids that end a row (default: the base tokenizer's EOS). */
  readonly eosTokenIds?: readonly number[];
  /** Checked before each model's prefill and before each model's decoding step: once aborted, the request stops
   *  at the next token with GenerationCancelledError (tokens already streamed stay streamed). */
  readonly signal?: AbortSignal;
}

/** StopReason, or "context-length" when the models' context ended the row before maxNewTokens. */
export type FinishReason = StopReason | "context-length";

export interface GenerateOutput {
  readonly alpha: readonly number[];
  readonly text: string;
  /** Generated ids (not the prompt), including a final EOS. */
  readonly tokenIds: readonly number[];
  readonly finishReason: FinishReason;
}

export interface GenerateTimings {
  /** From the start of `generate` to the first token of every row (prefill of all models + first choice). */
  readonly timeToFirstTokenMs: number;
  /** Mean time of each later step (one token for every row), or null when only one step ran. */
  readonly msPerToken: number | null;
  readonly prefillMs: number;
  readonly totalMs: number;
  /** Decoding steps (tokens per row, at most). */
  readonly steps: number;
  /** Tokens generated over all rows (finished rows stop counting). */
  readonly generatedTokens: number;
  readonly tokensPerSecond: number;
}

export interface GenerateResult {
  readonly mode: GuidanceMode;
  /** The prompt as decoded (after `maxPromptTokens`, when that cut it). */
  readonly promptTokenIds: readonly number[];
  readonly outputs: readonly GenerateOutput[];
  readonly timings: GenerateTimings;
}

/** One streamed token of one output row. `text` is what may be shown now (stop strings are held back). */
export interface TokenEvent {
  /** Index of the output (= of its α in the request). */
  readonly index: number;
  readonly step: number;
  readonly tokenId: number;
  readonly text: string;
  /** Set on the row's last token. */
  readonly finishReason?: FinishReason;
}

export type TokenCallback = (event: TokenEvent) => void;

export type GenerateErrorCode = "INVALID_REQUEST" | "INVALID_ALPHA" | "INVALID_BETA" | "INVALID_GUIDANCE" | "PROMPT_TOO_LONG";

export class GenerateRequestError extends EngineError<GenerateErrorCode> {
  static override readonly category: CategoryByCode<GenerateErrorCode> = {
    INVALID_REQUEST: "invalid-input",
    INVALID_ALPHA: "invalid-input",
    INVALID_BETA: "invalid-input",
    INVALID_GUIDANCE: "invalid-input",
    PROMPT_TOO_LONG: "context-exceeded",
  };
}

/** What one row had generated when its request was cancelled. */
export interface PartialOutput {
  readonly alpha: readonly number[];
  readonly text: string;
  readonly tokenIds: readonly number[];
}

/** A request stopped by its `signal` (code CANCELLED); `partial` holds every row's output so far. */
export class GenerationCancelledError extends CancelledError {
  constructor(
    message: string,
    readonly partial: readonly PartialOutput[],
  ) {
    super(message);
  }
}

export interface Generator {
  readonly mode: GuidanceMode;
  /** Length of each α (0 when unguided). */
  readonly objectives: number;
  readonly vocabSize: number;
  /** Positions the models hold together (the smallest maxSeqLen of base and guides): prompt + new tokens ≤ this. */
  readonly context: number;
  generate(request: GenerateRequest, onToken?: TokenCallback): Promise<GenerateResult>;
  /** Builds the sessions a request of this shape needs, so timings exclude graph building. */
  warm(rows: number, promptLength: number, maxNewTokens: number): Promise<void>;
  release(): Promise<void>;
}

/**
 * The last `limit` ids of a prompt; when it starts with `bosId`, BOS stays first and counts towards the limit
 * (so `[BOS, …the last limit − 1 ids]`). Prompts within the limit come back unchanged (same array).
 */
export function keepLastPromptTokens(ids: readonly number[], limit: number, bosId: number): readonly number[] {
  if (!Number.isInteger(limit) || limit < 1) throw new GenerateRequestError("INVALID_REQUEST", `maxPromptTokens must be an integer ≥ 1, got ${String(limit)}`);
  if (ids.length <= limit) return ids;
  if (ids[0] !== bosId) return ids.slice(ids.length - limit);
  return [bosId, ...ids.slice(ids.length - (limit - 1))];
}

/** Prepares decoders for the base and its guides (vocabularies are checked here). */
export function createGenerator(options: GeneratorOptions): Generator {
  return new GuidedGenerator(options);
}

function isGenArm(arm: ParmArm | GenArmGuides): arm is GenArmGuides {
  return "genarm" in arm;
}

class GuidedGenerator implements Generator {
  readonly mode: GuidanceMode;
  readonly objectives: number;
  readonly vocabSize: number;
  readonly context: number;
  readonly #base: DecodeModel;
  readonly #baseDecoder: StepDecoder;
  readonly #guides: StepDecoder[];

  constructor(options: GeneratorOptions) {
    const { base, arm } = options;
    this.#base = base;
    this.#baseDecoder = makeDecoder(base, undefined, options);
    if (!arm) {
      this.mode = "none";
      this.objectives = 0;
      this.#guides = [];
      this.vocabSize = assertSharedVocabulary(base, []);
    } else if (isGenArm(arm)) {
      if (!Array.isArray(arm.genarm) || arm.genarm.length === 0) throw new GenerateRequestError("INVALID_GUIDANCE", "GenARM needs at least one ARM");
      arm.genarm.forEach((g, i) => {
        if (g.adapter && g.adapter.spec.mode !== "lora") {
          throw new GenerateRequestError("INVALID_GUIDANCE", `genarm[${i}] has a ${g.adapter.spec.mode} adapter; GenARM ARMs are single-objective (plain LoRA or none)`);
        }
      });
      this.mode = "genarm";
      this.objectives = arm.genarm.length;
      this.vocabSize = assertSharedVocabulary(base, arm.genarm.map((g, i) => ({ role: `genarm[${i}]`, model: g.model })));
      this.#guides = arm.genarm.map((g) => makeDecoder(g.model, g.adapter, options));
    } else {
      if (arm.adapter.spec.mode !== "pblora") {
        throw new GenerateRequestError("INVALID_GUIDANCE", `a PARM ARM needs a PBLoRA adapter, got ${arm.adapter.spec.mode}`);
      }
      this.mode = "parm";
      this.objectives = arm.adapter.spec.numObjectives;
      this.vocabSize = assertSharedVocabulary(base, [{ role: "arm", model: arm.model }]);
      this.#guides = [makeDecoder(arm.model, arm.adapter, options)];
    }
    this.context = Math.min(base.config.maxSeqLen, ...this.#guides.map((g) => g.config.maxSeqLen));
  }

  async warm(rows: number, promptLength: number, maxNewTokens: number): Promise<void> {
    const total = Math.min(promptLength + maxNewTokens, this.context);
    for (const decoder of [this.#baseDecoder, ...this.#guides]) await decoder.warm(rows, promptLength, total);
  }

  async release(): Promise<void> {
    for (const decoder of [this.#baseDecoder, ...this.#guides]) await decoder.release();
  }

  async generate(request: GenerateRequest, onToken?: TokenCallback): Promise<GenerateResult> {
    const started = performance.now();
    const { alphas, rows } = this.#alphas(request.alphas);
    const beta = request.beta ?? 1;
    if (typeof beta !== "number" || Number.isNaN(beta) || !(beta > 0)) {
      throw new GenerateRequestError("INVALID_BETA", `beta must be > 0 (Infinity = no guidance), got ${String(beta)}`);
    }
    const sampling: SamplingConfig = request.sampling ?? { kind: "greedy" };
    validateSamplingConfig(sampling);
    const whole = this.#promptIds(request);
    const prompt = request.maxPromptTokens === undefined ? whole : keepLastPromptTokens(whole, request.maxPromptTokens, this.#base.tokenizer.bosId);
    if (prompt.length >= this.context) {
      throw new GenerateRequestError("PROMPT_TOO_LONG", `the prompt has ${prompt.length} tokens; the context holds ${this.context} and generation needs room for at least one more`);
    }
    if (!Number.isInteger(request.maxNewTokens) || request.maxNewTokens < 1) {
      throw new GenerateRequestError("INVALID_REQUEST", `maxNewTokens must be an integer ≥ 1, got ${String(request.maxNewTokens)}`);
    }
    if (request.requireMaxNewTokens === true && prompt.length + request.maxNewTokens > this.context) {
      throw new GenerateRequestError("PROMPT_TOO_LONG", `the prompt has ${prompt.length} tokens and maxNewTokens is ${request.maxNewTokens}: together more than the context of ${this.context} tokens`);
    }
    const budget = Math.min(request.maxNewTokens, this.context - prompt.length);
    const eos = request.eosTokenIds ?? [this.#base.tokenizer.eosId];
    const seedOffsets = rowSeedOffsets(request.rowSeedOffsets, rows);
    const rowState = alphas.map((alpha, index) => {
      const decoder = this.#base.tokenizer.createStreamDecoder();
      decoder.push(prompt[prompt.length - 1]); // context for the first piece (e.g. no leading space after BOS)
      return {
        alpha,
        sampler: new TokenSampler(sampling.kind === "sample" ? { ...sampling, seed: sampling.seed + seedOffsets[index]! } : sampling),
        stop: new StopCriteria({ eosTokenIds: eos, maxNewTokens: budget, stopStrings: request.stop ?? [] }),
        decoder,
        tokenIds: [] as number[],
        text: "",
        finish: null as FinishReason | null,
      };
    });
    const promptRows = alphas.map(() => prompt);
    const guideAlphas = this.mode === "parm" ? alphas : undefined;

    let steps = 0;
    const stopIfCancelled = (where: string) => throwIfGenerationCancelled(request.signal, where, steps, budget, rowState);
    stopIfCancelled("before the prefill");
    const baseStart = await this.#baseDecoder.prefill(promptRows);
    const caches: unknown[] = [baseStart.cache];
    const guideLogits: DecoderLogits[] = [];
    for (const guide of this.#guides) {
      stopIfCancelled("before the prefill");
      const out = await guide.prefill(promptRows, guideAlphas);
      caches.push(out.cache);
      guideLogits.push(out.logits);
    }
    const prefillMs = performance.now() - started;
    let baseLogits = baseStart.logits;
    let firstTokenAt = 0;
    let generated = 0;
    for (;;) {
      const scores = this.#scores(baseLogits, guideLogits, rows, alphas, beta);
      const V = this.vocabSize;
      for (const [index, row] of rowState.entries()) {
        if (row.finish !== null) continue;
        const tokenId = row.sampler.next(scores.subarray(index * V, (index + 1) * V));
        row.tokenIds.push(tokenId);
        generated++;
        let delta = row.stop.isEos(tokenId) ? "" : row.decoder.push(tokenId);
        if (row.tokenIds.length === budget && !row.stop.isEos(tokenId)) delta += row.decoder.flush();
        const step = row.stop.onToken(tokenId, delta);
        row.text += step.emit;
        if (step.stop !== null) row.finish = step.stop === "max-new-tokens" && budget < request.maxNewTokens ? "context-length" : step.stop;
        onToken?.({ index, step: steps, tokenId, text: step.emit, ...(row.finish !== null ? { finishReason: row.finish } : {}) });
      }
      steps++;
      if (steps === 1) firstTokenAt = performance.now();
      if (rowState.every((row) => row.finish !== null)) break;
      const tokens = rowState.map((row) => row.tokenIds[row.tokenIds.length - 1]);
      stopIfCancelled("between tokens");
      baseLogits = await this.#baseDecoder.step(caches[0], tokens);
      for (const [g, guide] of this.#guides.entries()) {
        stopIfCancelled("between tokens");
        guideLogits[g] = await guide.step(caches[g + 1], tokens, guideAlphas);
      }
    }
    const finished = performance.now();
    const totalMs = finished - started;
    return {
      mode: this.mode,
      promptTokenIds: prompt,
      outputs: rowState.map((row) => ({ alpha: row.alpha, text: row.text, tokenIds: row.tokenIds, finishReason: row.finish! })),
      timings: {
        timeToFirstTokenMs: firstTokenAt - started,
        msPerToken: steps > 1 ? (finished - firstTokenAt) / (steps - 1) : null,
        prefillMs,
        totalMs,
        steps,
        generatedTokens: generated,
        tokensPerSecond: totalMs > 0 ? (generated * 1000) / totalMs : 0,
      },
    };
  }

  /** Guided scores [rows, V] as float32 (log-probs when guided, logits when not). */
  #scores(base: DecoderLogits, guides: readonly DecoderLogits[], rows: number, alphas: readonly (readonly number[])[], beta: number): Float32Array {
    const V = this.vocabSize;
    const baseRows = asFloat32Rows(base, rows, V);
    switch (this.mode) {
      case "none":
        return baseRows;
      case "parm":
        return combineParmBatch(baseRows, asFloat32Rows(guides[0], rows, V), rows, beta, baseRows);
      case "genarm":
        return combineGenArmBatch(baseRows, guides.map((g) => asFloat32Rows(g, rows, V)), rows, alphas, beta, baseRows);
      default:
        throw new UnreachableCaseError(this.mode);
    }
  }

  #alphas(alphas: GenerateRequest["alphas"]): { alphas: readonly (readonly number[])[]; rows: number } {
    if (this.mode === "none") {
      if (alphas === undefined || alphas.length === 0) return { alphas: [[]], rows: 1 };
      alphas.forEach((a, i) => {
        if (!Array.isArray(a) || a.length !== 0) throw new GenerateRequestError("INVALID_ALPHA", `alphas[${i}]: unguided generation takes no preference vector (give [] or omit alphas)`);
      });
      return { alphas, rows: alphas.length };
    }
    if (!Array.isArray(alphas) || alphas.length === 0) {
      throw new GenerateRequestError("INVALID_ALPHA", `${this.mode} generation needs at least one preference vector α of ${this.objectives} weights`);
    }
    alphas.forEach((a, i) => {
      if (!Array.isArray(a) || a.length !== this.objectives) {
        throw new GenerateRequestError("INVALID_ALPHA", `alphas[${i}] must hold ${this.objectives} weights (one per objective), got ${Array.isArray(a) ? a.length : String(a)}`);
      }
      a.forEach((v, j) => {
        if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
          throw new GenerateRequestError("INVALID_ALPHA", `alphas[${i}][${j}] is ${String(v)}, expected a finite weight ≥ 0`);
        }
      });
    });
    return { alphas, rows: alphas.length };
  }

  #promptIds(request: GenerateRequest): number[] {
    const { prompt } = request;
    let ids: number[];
    if (typeof prompt === "string") {
      ids = this.#base.tokenizer.encode(prompt, { bos: request.addBos ?? true });
    } else if (prompt && Array.isArray(prompt.tokenIds)) {
      ids = [...prompt.tokenIds];
    } else {
      throw new GenerateRequestError("INVALID_REQUEST", "prompt must be a string or { tokenIds: number[] }");
    }
    if (ids.length === 0) throw new GenerateRequestError("INVALID_REQUEST", "the prompt is empty: give text, or token ids with at least one id (e.g. BOS)");
    ids.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new GenerateRequestError("INVALID_REQUEST", `prompt token ${i} is ${id}, outside the vocabulary [0, ${this.vocabSize})`);
      }
    });
    return ids;
  }
}

/** Throws GenerationCancelledError with each row's output so far when `signal` has aborted. */
function throwIfGenerationCancelled(signal: AbortSignal | undefined, where: string, steps: number, budget: number, rows: readonly PartialOutput[]): void {
  if (!signal?.aborted) return;
  const partial = rows.map((row) => ({ alpha: row.alpha, text: row.text, tokenIds: [...row.tokenIds] }));
  throw new GenerationCancelledError(`generation cancelled ${where}, after ${steps} of ${budget} tokens per row`, partial);
}

/** Logits rows as a fresh float32 [rows, V] array, dropping head columns past the tokenizer's vocabulary. */
function asFloat32Rows(logits: DecoderLogits, rows: number, vocab: number): Float32Array {
  const data = logits.data instanceof Float32Array ? logits.data : Float32Array.from(logits.data);
  if (logits.vocab === vocab) return data === logits.data ? Float32Array.from(data) : data;
  return truncateVocab(data, rows, vocab);
}

