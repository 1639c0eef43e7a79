/**
 * @module engine/evaluate/run
 * The evaluation sweep (design.md §5, parm-method.md §5): for each α of a simplex grid, generate a response for
 * every held-out prompt, score each response with every evaluator (one per dimension, α order), and take the mean
 * reward vector r̄(α); then the Pareto front, hypervolume (with its stored reference point) and MIP
 * (pareto/report.ts), plus the SVG plot.
 *
 * Generation is α-batched: `generate(prompt, alphas)` returns one response per α (the decode generator runs them
 * as one batch). α values are processed in chunks of `alphaBatch` (default: all at once); a point is finished,
 * scored and reported through `onPoint` when its chunk has run over every prompt, so a smaller chunk streams
 * earlier at the price of more generator calls.
 *
 * Cancellation: `signal` is checked before every generator call (one prompt of one α chunk), after a generator
 * call that failed (the generator itself stops at its next token when given the same signal), and before each
 * point's scoring and each evaluator's batches; the sweep then throws EvaluationRunError CANCELLED naming the
 * phase ("while generating …" / "while scoring …"). Points already reported through `onPoint` stay reported.
 *
 * Long prompts: a sweep answers the last turn of each conversation, so prompts longer than the limit that
 * `evaluationPromptLimit` gives keep their last tokens (decode/generate.ts `maxPromptTokens`, a leading BOS stays).
 * A typed error from `generate` (an Error with a string `code`, e.g. PROMPT_TOO_LONG) propagates unchanged, so the
 * runner can tell a deterministic input error from a transient one; anything else becomes GENERATION_FAILED.
 */
import { buildParetoReport, renderParetoSvg, simplexGrid, type BaselinePoint, type ParetoPlotOptions, type ParetoReport, type ReportReferenceRule } from "../pareto/index.ts";
import { checkSimplexVector } from "../pareto/grid.ts";
import { throwIfCancelled } from "../util/abort.ts";
import { categoryOfCause, EngineError, type CategoryByCode } from "../util/errors.ts";
import type { Evaluator } from "./evaluator.ts";

export type EvaluationRunErrorCode = "INVALID_OPTIONS" | "GENERATION_FAILED" | "CANCELLED";

export class EvaluationRunError extends EngineError<EvaluationRunErrorCode> {
  static override readonly category: CategoryByCode<EvaluationRunErrorCode> = {
    INVALID_OPTIONS: "invalid-input",
    GENERATION_FAILED: "internal",
    CANCELLED: "cancelled",
  };
}

/**
 * The prompt-token limit of a sweep: `maxPromptTokens` when given, else context − maxTokens, so prompt and answer
 * fit the models' context. INVALID_OPTIONS naming the field when no prompt fits: an explicit maxPromptTokens
 * must leave room for one new token (< context), and with null, maxTokens must be below the context.
 */
export function evaluationPromptLimit(options: { readonly context: number; readonly maxTokens: number; readonly maxPromptTokens: number | null }): number {
  const { context, maxTokens, maxPromptTokens } = options;
  if (maxPromptTokens !== null) {
    if (!Number.isInteger(maxPromptTokens) || maxPromptTokens < 1 || maxPromptTokens >= context) {
      throw new EvaluationRunError("INVALID_OPTIONS", `maxPromptTokens must be an integer in [1, ${context - 1}] (the models' context is ${context} tokens and generation needs room for one more), got ${maxPromptTokens}`);
    }
    return maxPromptTokens;
  }
  if (maxTokens >= context) {
    throw new EvaluationRunError("INVALID_OPTIONS", `maxTokens ${maxTokens} leaves no room for a prompt in the models' context of ${context} tokens; lower maxTokens or set maxPromptTokens below ${context}`);
  }
  return context - maxTokens;
}

function hasErrorCode(error: unknown): error is Error & { readonly code: string } {
  return error instanceof Error && typeof (error as { code?: unknown }).code === "string";
}

/** Generates one response per α for one prompt (α order of the evaluators). */
export type BatchGenerate = (prompt: string, alphas: readonly (readonly number[])[]) => Promise<readonly string[]>;

export interface EvaluatedPoint {
  readonly index: number;
  readonly alpha: readonly number[];
  /** Mean reward per objective over the prompts. */
  readonly rewards: readonly number[];
  /** Standard error of each mean (sample std / √n; 0 for a single prompt). */
  readonly standardErrors: readonly number[];
  /** Response per prompt. */
  readonly responses: readonly string[];
  /** Reward per prompt per objective ([prompt][objective]). */
  readonly perPrompt: readonly (readonly number[])[];
  readonly seconds: number;
}

export interface RunEvaluationOptions {
  /** Grid step (e.g. 0.1 → 11 points for k = 2); ignored when `alphas` is given. */
  readonly step?: number;
  readonly alphas?: readonly (readonly number[])[];
  readonly prompts: readonly string[];
  readonly generate: BatchGenerate;
  /** One per objective, in α order; their names are the report's objective names unless `objectiveNames`. */
  readonly evaluators: readonly Evaluator[];
  readonly objectiveNames?: readonly string[];
  readonly baselines?: readonly BaselinePoint[];
  readonly referencePoint?: readonly number[];
  readonly rule?: ReportReferenceRule;
  /** α values per generator call (default all). */
  readonly alphaBatch?: number;
  readonly onPoint?: (point: EvaluatedPoint, done: number, total: number) => void | Promise<void>;
  /** Stops the sweep at its next check (see the module comment); give `generate` the same signal. */
  readonly signal?: AbortSignal;
  readonly plot?: ParetoPlotOptions;
}

export interface EvaluationResult {
  readonly report: ParetoReport;
  readonly svg: string;
  readonly points: readonly EvaluatedPoint[];
  readonly seconds: number;
}

/** Mean and standard error of each column of rows [n][k]. */
export function meanAndStandardError(rows: readonly (readonly number[])[], k: number): { mean: number[]; se: number[] } {
  const n = rows.length;
  const mean = new Array<number>(k).fill(0);
  for (const r of rows) for (let j = 0; j < k; j++) mean[j] += r[j] / n;
  const se = mean.map((m, j) => {
    if (n < 2) return 0;
    let ss = 0;
    for (const r of rows) ss += (r[j] - m) ** 2;
    return Math.sqrt(ss / (n - 1) / n);
  });
  return { mean, se };
}

/** Scores texts with every evaluator: [i][objective]. An aborted `signal` stops it between evaluators and
 *  between an evaluator's batches (CancelledError). */
export async function scoreResponses(evaluators: readonly Evaluator[], prompts: readonly string[], responses: readonly string[], signal?: AbortSignal): Promise<number[][]> {
  const columns: Float64Array[] = [];
  for (const e of evaluators) {
    throwIfCancelled(signal, () => `scoring cancelled before evaluator ${e.name}`);
    const scores = await e.score(prompts, responses, signal);
    if (scores.length !== prompts.length) throw new EvaluationRunError("INVALID_OPTIONS", `evaluator ${e.name} returned ${scores.length} scores for ${prompts.length} responses`);
    scores.forEach((v, i) => {
      if (!Number.isFinite(v)) throw new EvaluationRunError("INVALID_OPTIONS", `evaluator ${e.name} scored response ${i} as ${v}`);
    });
    columns.push(scores);
  }
  return prompts.map((_, i) => columns.map((c) => c[i]));
}

function resolveAlphas(options: RunEvaluationOptions, k: number): number[][] {
  if (options.alphas !== undefined) {
    if (!Array.isArray(options.alphas) || options.alphas.length === 0) throw new EvaluationRunError("INVALID_OPTIONS", "alphas must list at least one preference vector");
    options.alphas.forEach((a, i) => checkSimplexVector(a, k, `alphas[${i}]`));
    return options.alphas.map((a) => [...a]);
  }
  if (options.step === undefined) throw new EvaluationRunError("INVALID_OPTIONS", "give a grid step or explicit alphas");
  return simplexGrid(k, options.step);
}

/** The rewards of one point's responses per prompt; CANCELLED naming the point when the signal aborts. */
async function scorePoint(options: RunEvaluationOptions, responses: readonly string[], index: number, total: number): Promise<number[][]> {
  const cancelled = () => `evaluation cancelled while scoring point ${index + 1} of ${total}; ${index} points done`;
  if (options.signal?.aborted) throw new EvaluationRunError("CANCELLED", cancelled());
  try {
    return await scoreResponses(options.evaluators, options.prompts, responses, options.signal);
  } catch (cause) {
    if (options.signal?.aborted) throw new EvaluationRunError("CANCELLED", cancelled(), { cause });
    throw cause;
  }
}

/** Runs the sweep; see the module comment. */
export async function runEvaluation(options: RunEvaluationOptions): Promise<EvaluationResult> {
  const started = performance.now();
  const { evaluators, prompts } = options;
  if (!Array.isArray(evaluators) || evaluators.length === 0) throw new EvaluationRunError("INVALID_OPTIONS", "give one evaluator per objective (α order)");
  const k = evaluators.length;
  const names = options.objectiveNames ? [...options.objectiveNames] : evaluators.map((e) => e.name);
  if (names.length !== k) throw new EvaluationRunError("INVALID_OPTIONS", `${names.length} objective names for ${k} evaluators`);
  if (!Array.isArray(prompts) || prompts.length === 0) throw new EvaluationRunError("INVALID_OPTIONS", "give at least one prompt");
  prompts.forEach((p, i) => {
    if (typeof p !== "string") throw new EvaluationRunError("INVALID_OPTIONS", `prompts[${i}] is not a string`);
  });
  const alphas = resolveAlphas(options, k);
  const chunkSize = options.alphaBatch ?? alphas.length;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new EvaluationRunError("INVALID_OPTIONS", `alphaBatch must be an integer ≥ 1, got ${chunkSize}`);

  const points: EvaluatedPoint[] = [];
  for (let c = 0; c < alphas.length; c += chunkSize) {
    const chunk = alphas.slice(c, c + chunkSize);
    const chunkStarted = performance.now();
    const responses: string[][] = chunk.map(() => []);
    const generating = (p: number) => `evaluation cancelled while generating (prompt ${p + 1} of ${prompts.length}, points ${c + 1}–${c + chunk.length} of ${alphas.length}); ${points.length} points done`;
    for (const [p, prompt] of prompts.entries()) {
      if (options.signal?.aborted) throw new EvaluationRunError("CANCELLED", generating(p));
      let texts: readonly string[];
      try {
        texts = await options.generate(prompt, chunk);
      } catch (cause) {
        if (options.signal?.aborted) throw new EvaluationRunError("CANCELLED", generating(p), { cause });
        if (hasErrorCode(cause)) throw cause;
        throw new EvaluationRunError("GENERATION_FAILED", `generation failed for prompt ${p} at α ${JSON.stringify(chunk)}: ${(cause as Error).message}`, { cause, category: categoryOfCause(cause) });
      }
      if (!Array.isArray(texts) || texts.length !== chunk.length) {
        throw new EvaluationRunError("GENERATION_FAILED", `generate returned ${Array.isArray(texts) ? texts.length : typeof texts} responses for ${chunk.length} preference vectors`);
      }
      texts.forEach((t, j) => responses[j].push(t));
    }
    const generatedSeconds = (performance.now() - chunkStarted) / 1000;
    for (const [j, alpha] of chunk.entries()) {
      const scoreStarted = performance.now();
      const perPrompt = await scorePoint(options, responses[j], c + j, alphas.length);
      const { mean, se } = meanAndStandardError(perPrompt, k);
      const point: EvaluatedPoint = {
        index: c + j,
        alpha,
        rewards: mean,
        standardErrors: se,
        responses: responses[j],
        perPrompt,
        seconds: generatedSeconds / chunk.length + (performance.now() - scoreStarted) / 1000,
      };
      points.push(point);
      await options.onPoint?.(point, points.length, alphas.length);
    }
  }
  const report = buildParetoReport(
    points.map((p) => ({ alpha: p.alpha, rewards: p.rewards })),
    {
      objectiveNames: names,
      ...(options.baselines ? { baselines: options.baselines } : {}),
      ...(options.referencePoint ? { referencePoint: options.referencePoint } : {}),
      ...(options.rule ? { rule: options.rule } : {}),
    },
  );
  return { report, svg: renderParetoSvg(report, options.plot), points, seconds: (performance.now() - started) / 1000 };
}
