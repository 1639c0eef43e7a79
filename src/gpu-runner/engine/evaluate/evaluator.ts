/**
 * @module engine/evaluate/evaluator
 * Evaluators score (prompt, response) pairs with one scalar per pair, higher = better on their dimension.
 * Two implementations:
 * - `RewardModelEvaluator`: a reward model trained by train-evaluator.ts on a backbone (reward-model.ts file).
 * - `OnnxRewardEvaluator`: an external ONNX reward model with int64 inputs `input_ids` and `attention_mask`
 *   [batch, T] (names configurable) and one float output holding one score per row ([batch] or [batch, 1]).
 *   Text is encoded as tokenizer.encode(prompt + response) (BOS per the tokenizer), cut from the left to
 *   `maxLength`, right-padded with `padId` and mask 0. A model with static shapes gets `padToLength` and
 *   `fixedBatch` (every run padded to exactly that shape).
 */
import { readFileSync } from "node:fs";
import type { LlamaConfig, ModelWeights } from "../model/config.ts";
import type { HostTensor } from "../onnx/index.ts";
import { createEngineSession, type EngineSession, type ExecutionProviderChoice } from "../session/index.ts";
import type { PairTokenizer } from "../train/pairs.ts";
import { throwIfCancelled } from "../util/abort.ts";
import { categoryOfCause, EngineError, type CategoryByCode } from "../util/errors.ts";
import { RewardScorer, tokenizeForReward, type RewardModel } from "./reward-model.ts";

export interface Evaluator {
  /** The dimension it scores (for reports). */
  readonly name: string;
  /** One score per (prompts[i], responses[i]); higher is better. An aborted `signal` stops it before its next
   *  batch with CancelledError. */
  score(prompts: readonly string[], responses: readonly string[], signal?: AbortSignal): Promise<Float64Array>;
  release(): Promise<void>;
}

export type EvaluatorErrorCode = "INVALID_INPUT" | "INVALID_MODEL" | "RUN_FAILED";

export class EvaluatorError extends EngineError<EvaluatorErrorCode> {
  static override readonly category: CategoryByCode<EvaluatorErrorCode> = {
    INVALID_INPUT: "internal",
    INVALID_MODEL: "evaluator-unavailable",
    RUN_FAILED: "internal",
  };
}

function checkTexts(name: string, prompts: readonly string[], responses: readonly string[]): void {
  if (!Array.isArray(prompts) || !Array.isArray(responses)) throw new EvaluatorError("INVALID_INPUT", `evaluator ${name}: prompts and responses must be arrays`);
  if (prompts.length !== responses.length) throw new EvaluatorError("INVALID_INPUT", `evaluator ${name}: ${prompts.length} prompts for ${responses.length} responses`);
  prompts.forEach((p, i) => {
    if (typeof p !== "string") throw new EvaluatorError("INVALID_INPUT", `evaluator ${name}: prompts[${i}] is not a string`);
    if (typeof responses[i] !== "string") throw new EvaluatorError("INVALID_INPUT", `evaluator ${name}: responses[${i}] is not a string`);
  });
}

export interface RewardModelEvaluatorOptions {
  readonly backbone: { readonly config: LlamaConfig; readonly weights: ModelWeights; readonly tokenizer: PairTokenizer; readonly source?: { readonly sha256: string } };
  readonly model: RewardModel;
  /** Rows per run (default 8). */
  readonly batch?: number;
  readonly threads?: number;
  readonly executionProvider?: ExecutionProviderChoice;
  /** Display name (default the model's dimension). */
  readonly name?: string;
}

/** A trained reward model as an evaluator. The backbone digest is checked when the backbone carries one, and the
 *  file's maxLength must fit the backbone's context (else INVALID_MODEL, before any sequence reaches a graph). */
export class RewardModelEvaluator implements Evaluator {
  readonly name: string;
  readonly #scorer: RewardScorer;
  readonly #options: RewardModelEvaluatorOptions;

  constructor(options: RewardModelEvaluatorOptions) {
    const { backbone, model } = options;
    const digest = backbone.source?.sha256;
    if (digest !== undefined && digest !== model.metadata.baseModelDigest) {
      throw new EvaluatorError("INVALID_MODEL", `evaluator "${model.metadata.dimension}" was trained on backbone ${model.metadata.baseModelDigest}, not ${digest}`);
    }
    const head = model.tensors.get("score.weight");
    if (!head || head.length !== backbone.config.dim) {
      throw new EvaluatorError("INVALID_MODEL", `evaluator "${model.metadata.dimension}": score.weight must hold ${backbone.config.dim} values (the backbone's dim), got ${head?.length ?? "none"}`);
    }
    if (model.metadata.maxLength > backbone.config.maxSeqLen) {
      throw new EvaluatorError("INVALID_MODEL", `evaluator "${model.metadata.dimension}" scores ${model.metadata.maxLength} tokens, more than the backbone's context of ${backbone.config.maxSeqLen}`);
    }
    this.name = options.name ?? model.metadata.dimension;
    this.#options = options;
    this.#scorer = new RewardScorer({
      config: backbone.config,
      weights: backbone.weights,
      spec: model.metadata.spec,
      pooling: model.metadata.pooling,
      maxLength: model.metadata.maxLength,
      padId: backbone.tokenizer.eosId,
      ...(options.batch !== undefined ? { batch: options.batch } : {}),
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      ...(options.executionProvider !== undefined ? { executionProvider: options.executionProvider } : {}),
    });
  }

  async score(prompts: readonly string[], responses: readonly string[], signal?: AbortSignal): Promise<Float64Array> {
    checkTexts(this.name, prompts, responses);
    const { backbone, model } = this.#options;
    const rows = prompts.map((p, i) => tokenizeForReward(backbone.tokenizer, p, responses[i], model.metadata));
    return this.#scorer.score(rows, model.tensors, signal);
  }

  async release(): Promise<void> {
    await this.#scorer.release();
  }
}

export interface OnnxRewardEvaluatorOptions {
  readonly name: string;
  /** Path of the .onnx file, or its bytes. */
  readonly model: string | Uint8Array;
  readonly tokenizer: { encode(text: string, options?: { bos?: boolean }): number[] };
  readonly padId: number;
  /** Longest sequence fed (default 512); longer ones keep their last tokens. */
  readonly maxLength?: number;
  /** Rows per run (default 8). */
  readonly batch?: number;
  /** Pad every run to this length (models with a static sequence axis). */
  readonly padToLength?: number;
  /** Pad every run to `batch` rows (models with a static batch axis). */
  readonly fixedBatch?: boolean;
  readonly inputIdsName?: string;
  readonly attentionMaskName?: string;
  /** Default: the model's first output. */
  readonly outputName?: string;
  readonly threads?: number;
  readonly executionProvider?: ExecutionProviderChoice;
}

/** An external ONNX reward model as an evaluator; see the module comment. */
export class OnnxRewardEvaluator implements Evaluator {
  readonly name: string;
  readonly #options: OnnxRewardEvaluatorOptions;
  readonly #session: EngineSession;
  readonly #output: string;
  readonly #ids: string;
  readonly #mask: string;

  private constructor(options: OnnxRewardEvaluatorOptions, session: EngineSession, output: string) {
    this.name = options.name;
    this.#options = options;
    this.#session = session;
    this.#output = output;
    this.#ids = options.inputIdsName ?? "input_ids";
    this.#mask = options.attentionMaskName ?? "attention_mask";
  }

  /** Loads the model and checks its declared inputs and output. */
  static async create(options: OnnxRewardEvaluatorOptions): Promise<OnnxRewardEvaluator> {
    const fail = (message: string): never => {
      throw new EvaluatorError("INVALID_MODEL", `ONNX evaluator "${options.name}": ${message}`);
    };
    if (typeof options.name !== "string" || options.name.trim() === "") throw new EvaluatorError("INVALID_MODEL", "an ONNX evaluator needs a name");
    const batch = options.batch ?? 8;
    if (!Number.isInteger(batch) || batch < 1) fail(`batch must be an integer ≥ 1, got ${batch}`);
    const maxLength = options.maxLength ?? 512;
    if (!Number.isInteger(maxLength) || maxLength < 1) fail(`maxLength must be an integer ≥ 1, got ${maxLength}`);
    if (options.padToLength !== undefined && (!Number.isInteger(options.padToLength) || options.padToLength < maxLength)) {
      fail(`padToLength must be an integer ≥ maxLength (${maxLength}), got ${options.padToLength}`);
    }
    let bytes: Uint8Array;
    try {
      bytes = typeof options.model === "string" ? new Uint8Array(readFileSync(options.model)) : options.model;
    } catch (cause) {
      return fail(`cannot read ${String(options.model)}: ${(cause as Error).message}`);
    }
    let session: EngineSession;
    try {
      session = await createEngineSession({ modelBytes: bytes, externalData: [] }, {
        executionProvider: options.executionProvider ?? "cpu",
        ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
      });
    } catch (cause) {
      return fail(`cannot load the model: ${(cause as Error).message}`);
    }
    const ids = options.inputIdsName ?? "input_ids";
    const mask = options.attentionMaskName ?? "attention_mask";
    for (const name of [ids, mask]) if (!session.inputNames.includes(name)) fail(`the model has no input "${name}" (inputs: ${session.inputNames.join(", ")})`);
    const extra = session.inputNames.filter((n) => n !== ids && n !== mask);
    if (extra.length > 0) fail(`the model needs inputs this evaluator does not feed: ${extra.join(", ")}`);
    const output = options.outputName ?? session.outputNames[0];
    if (!session.outputNames.includes(output)) fail(`the model has no output "${output}" (outputs: ${session.outputNames.join(", ")})`);
    return new OnnxRewardEvaluator({ ...options, batch, maxLength }, session, output);
  }

  async score(prompts: readonly string[], responses: readonly string[], signal?: AbortSignal): Promise<Float64Array> {
    checkTexts(this.name, prompts, responses);
    const { tokenizer, padId } = this.#options;
    const maxLength = this.#options.maxLength!;
    const batch = this.#options.batch!;
    const rows = prompts.map((p, i) => {
      const ids = tokenizer.encode(p + responses[i]);
      return ids.length > maxLength ? ids.slice(ids.length - maxLength) : ids;
    });
    const out = new Float64Array(rows.length);
    for (let s = 0; s < rows.length; s += batch) {
      throwIfCancelled(signal, () => `ONNX evaluator "${this.name}" cancelled after ${s} of ${rows.length} rows`);
      const chunk = rows.slice(s, s + batch);
      const B = this.#options.fixedBatch ? batch : chunk.length;
      const T = this.#options.padToLength ?? Math.max(1, ...chunk.map((r) => r.length));
      const ids = new BigInt64Array(B * T).fill(BigInt(padId));
      const mask = new BigInt64Array(B * T);
      chunk.forEach((row, r) => row.forEach((id, t) => {
        ids[r * T + t] = BigInt(id);
        mask[r * T + t] = 1n;
      }));
      const feeds: Record<string, HostTensor> = {
        [this.#ids]: { dtype: "int64", shape: [B, T], data: ids },
        [this.#mask]: { dtype: "int64", shape: [B, T], data: mask },
      };
      let result: Record<string, HostTensor>;
      try {
        result = await this.#session.run(feeds, [this.#output]);
      } catch (cause) {
        throw new EvaluatorError("RUN_FAILED", `ONNX evaluator "${this.name}" failed on rows ${s}–${s + chunk.length - 1}: ${(cause as Error).message}`, { cause, category: categoryOfCause(cause) });
      }
      const scores = result[this.#output];
      const perRow = scores.data.length / B;
      if (!(scores.data instanceof Float32Array || scores.data instanceof Float64Array) || perRow !== 1 || scores.shape[0] !== B) {
        throw new EvaluatorError("RUN_FAILED", `ONNX evaluator "${this.name}": output "${this.#output}" must hold one float per row, got ${scores.dtype} [${scores.shape.join(",")}]`);
      }
      chunk.forEach((_, r) => (out[s + r] = Number(scores.data[r])));
    }
    return out;
  }

  async release(): Promise<void> {
    await this.#session.release();
  }
}
