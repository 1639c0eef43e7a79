/**
 * @module engine/decode/guidance
 * Guided decoding as pure functions of the models' next-token logits (parm-method.md §3, design.md §5):
 *
 *   PARM:    log p̃(y) = log_softmax(base)(y) + (1/β) · log_softmax(ARM(·|α))(y)               − logsumexp(…)
 *   GenARM:  log p̃(y) = log_softmax(base)(y) + Σ_i (α_i/β) · log_softmax(ARM_i)(y)           − logsumexp(…)
 *
 * i.e. p̃ ∝ π_base · π_ARM^{1/β} (resp. Π_i π_i^{α_i/β}). Log-probs are combined, not logits, as the authors'
 * language-model-arithmetic does; sampling the result at temperature 1 equals that library's sampling at
 * T = 1/(1 + Σ weights), and greedy decoding is unaffected by the scaling. PARM's α enters through the ARM's
 * adapter (the ARM logits already depend on α), so the PARM combination takes only β.
 *
 * Numerics: every reduction runs in float64 (max-shifted logsumexp); the output row is float32. −∞ entries are
 * masked tokens and stay −∞; NaN and +∞ are rejected. A guide with weight 0 (β = ∞, or α_i = 0) is skipped, so
 * β → ∞ returns exactly log_softmax(base). Output may alias an input (`out === base`): each index is read before
 * it is written.
 *
 * The LogitsProcessor shape (transformers.js `logits_process.js`): a processor rewrites one row in place given the
 * decoding context; a {@link LogitsProcessorList} runs several in order.
 */
import { EngineError, type CategoryByCode } from "../util/errors.ts";

export type GuidanceErrorCode =
  | "EMPTY_ROW"
  | "VOCAB_MISMATCH"
  | "NON_FINITE_LOGIT"
  | "NO_FINITE_LOGIT"
  | "INVALID_BETA"
  | "INVALID_ALPHA"
  | "SHAPE_MISMATCH"
  | "MISSING_GUIDE";

/** Raised for malformed guidance input; the message names the argument, row and index. */
export class GuidanceInputError extends EngineError<GuidanceErrorCode> {
  static override readonly category: CategoryByCode<GuidanceErrorCode> = {
    EMPTY_ROW: "internal",
    VOCAB_MISMATCH: "internal",
    NON_FINITE_LOGIT: "diverged",
    NO_FINITE_LOGIT: "diverged",
    INVALID_BETA: "invalid-input",
    INVALID_ALPHA: "invalid-input",
    SHAPE_MISMATCH: "internal",
    MISSING_GUIDE: "internal",
  };
}

/** What a processor may know about the row it rewrites. */
export interface LogitsProcessorContext {
  /** 0 for the first new token. */
  readonly step: number;
  /** Prompt and generated ids so far, for this row. */
  readonly tokenIds: readonly number[];
  /** The guide models' logits for this row and step (one per ARM), same vocabulary as the row. */
  readonly guides?: readonly Float32Array[];
}

/** Rewrites one row of next-token scores (logits or log-probs) in place. */
export interface LogitsProcessor {
  process(row: Float32Array, context: LogitsProcessorContext): void;
}

/** Runs processors in insertion order. */
export class LogitsProcessorList implements LogitsProcessor {
  readonly #processors: LogitsProcessor[];
  constructor(processors: readonly LogitsProcessor[] = []) {
    this.#processors = [...processors];
  }
  push(processor: LogitsProcessor): this {
    this.#processors.push(processor);
    return this;
  }
  get length(): number {
    return this.#processors.length;
  }
  process(row: Float32Array, context: LogitsProcessorContext): void {
    for (const processor of this.#processors) processor.process(row, context);
  }
}

/** Replaces the row (base logits) by the PARM combination with `context.guides[0]` (the ARM(·|α) logits). */
export class ParmGuidanceProcessor implements LogitsProcessor {
  readonly beta: number;
  constructor(beta: number) {
    checkBeta(beta, "beta");
    this.beta = beta;
  }
  process(row: Float32Array, context: LogitsProcessorContext): void {
    const guides = context.guides;
    if (!guides || guides.length !== 1) {
      throw new GuidanceInputError("MISSING_GUIDE", `PARM guidance needs exactly 1 guide row, got ${guides?.length ?? 0}`);
    }
    combineParm(row, guides[0], this.beta, row);
  }
}

/** Replaces the row (base logits) by the GenARM combination with `context.guides` (one row per objective). */
export class GenArmGuidanceProcessor implements LogitsProcessor {
  readonly alpha: readonly number[];
  readonly beta: number;
  constructor(alpha: readonly number[], beta: number) {
    checkBeta(beta, "beta");
    checkAlpha(alpha, alpha.length, "alpha");
    this.alpha = [...alpha];
    this.beta = beta;
  }
  process(row: Float32Array, context: LogitsProcessorContext): void {
    const guides = context.guides;
    if (!guides || guides.length !== this.alpha.length) {
      throw new GuidanceInputError(
        "MISSING_GUIDE",
        `GenARM guidance with ${this.alpha.length} objectives needs ${this.alpha.length} guide rows, got ${guides?.length ?? 0}`,
      );
    }
    combineGenArm(row, guides, this.alpha, this.beta, row);
  }
}

/** log_softmax of one row, reductions in float64. */
export function logSoftmax(row: Float32Array, out: Float32Array = new Float32Array(row.length)): Float32Array {
  checkRow(row, "row");
  checkOut(out, row.length);
  const lse = logSumExp(row, "row");
  for (let i = 0; i < row.length; i++) out[i] = row[i] - lse;
  return out;
}

/** PARM: log_softmax(base) + (1/β)·log_softmax(arm), renormalised. β ∈ (0, ∞]; β = ∞ gives log_softmax(base). */
export function combineParm(
  base: Float32Array,
  arm: Float32Array,
  beta: number,
  out: Float32Array = new Float32Array(base.length),
): Float32Array {
  checkBeta(beta, "beta");
  return combineWeighted(base, [arm], [1 / beta], out, ["arm"]);
}

/** GenARM: log_softmax(base) + Σ_i (α_i/β)·log_softmax(arms[i]), renormalised. α_i ≥ 0 (the simplex is not
 *  enforced: GenARM scripts use arbitrary non-negative weights); β ∈ (0, ∞]. */
export function combineGenArm(
  base: Float32Array,
  arms: readonly Float32Array[],
  alpha: readonly number[],
  beta: number,
  out: Float32Array = new Float32Array(base.length),
): Float32Array {
  checkBeta(beta, "beta");
  checkAlpha(alpha, arms.length, "alpha");
  return combineWeighted(
    base,
    arms,
    alpha.map((a) => a / beta),
    out,
    arms.map((_, i) => `arms[${i}]`),
  );
}

/** PARM over a [batchSize, V] row-major batch; `beta` is one value or one per row. */
export function combineParmBatch(
  base: Float32Array,
  arm: Float32Array,
  batchSize: number,
  beta: number | readonly number[],
  out: Float32Array = new Float32Array(base.length),
): Float32Array {
  const vocab = batchVocab(base, batchSize, "base");
  checkSameLength(arm, base.length, "arm");
  checkOut(out, base.length);
  const betas = perRow(beta, batchSize, "beta");
  for (let b = 0; b < batchSize; b++) {
    const range = [b * vocab, (b + 1) * vocab] as const;
    checkBeta(betas[b], `beta[${b}]`);
    combineWeighted(base.subarray(...range), [arm.subarray(...range)], [1 / betas[b]], out.subarray(...range), [
      `arm row ${b}`,
    ]);
  }
  return out;
}

/** GenARM over a [batchSize, V] batch: `arms[i]` is ARM i's [batchSize, V] logits, `alpha[b]` row b's weights,
 *  `beta` one value or one per row. */
export function combineGenArmBatch(
  base: Float32Array,
  arms: readonly Float32Array[],
  batchSize: number,
  alpha: readonly (readonly number[])[],
  beta: number | readonly number[],
  out: Float32Array = new Float32Array(base.length),
): Float32Array {
  const vocab = batchVocab(base, batchSize, "base");
  arms.forEach((arm, i) => checkSameLength(arm, base.length, `arms[${i}]`));
  checkOut(out, base.length);
  if (!Array.isArray(alpha) || alpha.length !== batchSize) {
    throw new GuidanceInputError("SHAPE_MISMATCH", `alpha needs one weight vector per row (${batchSize}), got ${alpha?.length}`);
  }
  const betas = perRow(beta, batchSize, "beta");
  for (let b = 0; b < batchSize; b++) {
    const range = [b * vocab, (b + 1) * vocab] as const;
    checkBeta(betas[b], `beta[${b}]`);
    checkAlpha(alpha[b], arms.length, `alpha[${b}]`);
    combineWeighted(
      base.subarray(...range),
      arms.map((arm) => arm.subarray(...range)),
      alpha[b].map((a: number) => a / betas[b]),
      out.subarray(...range),
      arms.map((_, i) => `arms[${i}] row ${b}`),
    );
  }
  return out;
}

/** Copies the first `keepVocab` columns of a [batchSize, V] batch (e.g. an ARM whose logits are padded past the
 *  tokenizer's vocabulary, like `logits[:, :len(tokenizer)]`). */
export function truncateVocab(logits: Float32Array, batchSize: number, keepVocab: number): Float32Array {
  const vocab = batchVocab(logits, batchSize, "logits");
  if (!Number.isInteger(keepVocab) || keepVocab < 1 || keepVocab > vocab) {
    throw new GuidanceInputError("VOCAB_MISMATCH", `keepVocab must be an integer in [1, ${vocab}], got ${keepVocab}`);
  }
  const out = new Float32Array(batchSize * keepVocab);
  for (let b = 0; b < batchSize; b++) out.set(logits.subarray(b * vocab, b * vocab + keepVocab), b * keepVocab);
  return out;
}

/** Σ_g w_g·log_softmax(guide_g) + log_softmax(base), renormalised, written to out. Zero weights are skipped. */
function combineWeighted(
  base: Float32Array,
  guides: readonly Float32Array[],
  weights: readonly number[],
  out: Float32Array,
  guideNames: readonly string[],
): Float32Array {
  checkRow(base, "base");
  checkOut(out, base.length);
  const active: { row: Float32Array; weight: number; lse: number }[] = [];
  guides.forEach((guide, g) => {
    checkSameLength(guide, base.length, guideNames[g]);
    if (weights[g] === 0) return;
    checkRow(guide, guideNames[g]);
    active.push({ row: guide, weight: weights[g], lse: logSumExp(guide, guideNames[g]) });
  });
  const baseLse = logSumExp(base, "base");
  const scores = new Float64Array(base.length);
  let max = -Infinity;
  for (let i = 0; i < base.length; i++) {
    let s = base[i] - baseLse;
    for (let g = 0; g < active.length; g++) s += active[g].weight * (active[g].row[i] - active[g].lse);
    scores[i] = s;
    if (s > max) max = s;
  }
  if (max === -Infinity) {
    throw new GuidanceInputError(
      "NO_FINITE_LOGIT",
      "the guided distribution is empty: no token has a finite log-probability under the base and every weighted guide",
    );
  }
  let sum = 0;
  for (let i = 0; i < scores.length; i++) sum += Math.exp(scores[i] - max);
  const lse = max + Math.log(sum);
  for (let i = 0; i < scores.length; i++) out[i] = scores[i] - lse;
  return out;
}

function logSumExp(row: Float32Array, what: string): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  if (max === -Infinity) throw new GuidanceInputError("NO_FINITE_LOGIT", `${what} has no finite logit (all −∞)`);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  return max + Math.log(sum);
}

function checkRow(row: Float32Array, what: string): void {
  if (!(row instanceof Float32Array)) throw new GuidanceInputError("SHAPE_MISMATCH", `${what} must be a Float32Array`);
  if (row.length === 0) throw new GuidanceInputError("EMPTY_ROW", `${what} is empty (vocabulary size 0)`);
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (Number.isNaN(v) || v === Infinity) {
      throw new GuidanceInputError("NON_FINITE_LOGIT", `${what}[${i}] is ${v}; logits must be finite or −∞ (masked)`);
    }
  }
}

function checkSameLength(row: Float32Array, length: number, what: string): void {
  if (!(row instanceof Float32Array)) throw new GuidanceInputError("SHAPE_MISMATCH", `${what} must be a Float32Array`);
  if (row.length !== length) {
    throw new GuidanceInputError(
      "VOCAB_MISMATCH",
      `${what} has ${row.length} entries, base has ${length}: base and guide must share one vocabulary (see truncateVocab)`,
    );
  }
}

function checkOut(out: Float32Array, length: number): void {
  if (!(out instanceof Float32Array) || out.length !== length) {
    throw new GuidanceInputError("SHAPE_MISMATCH", `out must be a Float32Array of length ${length}`);
  }
}

function checkBeta(beta: number, what: string): void {
  if (typeof beta !== "number" || Number.isNaN(beta) || !(beta > 0) || !Number.isFinite(1 / beta)) {
    throw new GuidanceInputError(
      "INVALID_BETA",
      `${what} must be > 0 with a finite 1/β (Infinity allowed: no guidance), got ${String(beta)}`,
    );
  }
}

function checkAlpha(alpha: readonly number[], k: number, what: string): void {
  if (!Array.isArray(alpha) || alpha.length !== k) {
    throw new GuidanceInputError("INVALID_ALPHA", `${what} must hold ${k} weights (one per ARM), got ${Array.isArray(alpha) ? alpha.length : String(alpha)}`);
  }
  alpha.forEach((a, i) => {
    if (typeof a !== "number" || !Number.isFinite(a) || a < 0) {
      throw new GuidanceInputError("INVALID_ALPHA", `${what}[${i}] is ${String(a)}, expected a finite weight ≥ 0`);
    }
  });
}

function batchVocab(logits: Float32Array, batchSize: number, what: string): number {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new GuidanceInputError("SHAPE_MISMATCH", `batchSize must be an integer ≥ 1, got ${batchSize}`);
  }
  if (!(logits instanceof Float32Array) || logits.length === 0 || logits.length % batchSize !== 0) {
    throw new GuidanceInputError(
      "SHAPE_MISMATCH",
      `${what} must be a non-empty Float32Array of batchSize·V entries; ${logits?.length} is not a multiple of ${batchSize}`,
    );
  }
  return logits.length / batchSize;
}

function perRow(value: number | readonly number[], batchSize: number, what: string): readonly number[] {
  if (typeof value === "number") return new Array<number>(batchSize).fill(value);
  if (!Array.isArray(value) || value.length !== batchSize) {
    throw new GuidanceInputError("SHAPE_MISMATCH", `${what} must be a number or one value per row (${batchSize})`);
  }
  return value;
}
