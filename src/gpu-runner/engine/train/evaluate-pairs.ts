/** @module engine/train/evaluate-pairs
 * Held-out evaluation of ARMs on preference pairs through the score graph (model/arm-graph.ts).
 *
 * For a pair, margin = Σ log π(response 0 | x, α) − Σ log π(response 1 | x, α) (parm-method.md §2 log-probs);
 * under objective i with sign s_i = +1 when response 0 is preferred, −1 otherwise:
 *   loss_i     = mean over pairs labelled for i of −log σ(β_i · s_i · margin)   (softplus(−β_i s_i margin))
 *   accuracy_i = mean over the same pairs of [s_i · margin > 0]  (an exact tie counts ½)
 * PARM: margins come from one PBLoRA ARM run at α. GenARM: ARM j is run once (no α) and the combined margin at α
 * is Σ_j α_j · margin_j, the log-prob of GenARM's guided combination Σ_j α_j log π_j; at α = e_i that is ARM i.
 * The "pairwise-accuracy front" is this evaluation along a grid of α.
 */
import { adapterFeeds, ARM_INPUTS, ARM_OUTPUTS, buildArmScoreGraph, packArmRows, type ArmScoreGraph } from "../model/arm-graph.ts";
import type { LlamaConfig, ModelWeights } from "../model/config.ts";
import type { WeightsPlacement } from "../model/llama-graph.ts";
import { adapterObjectives, type AdapterSpec } from "../model/pblora.ts";
import type { HostTensor } from "../onnx/index.ts";
import { createEngineSession, type EngineSession, type ExecutionProviderChoice } from "../session/index.ts";
import { throwIfCancelled } from "../util/abort.ts";
import { responseSlotsByBucket, TrainerError, type PreparedPair } from "./trainer-data.ts";

export interface ObjectiveEvaluation {
  /** Pairs labelled for the objective. */
  readonly pairs: number;
  /** Mean −log σ(β_i s_i margin); NaN without pairs. */
  readonly loss: number;
  /** Share of pairs ranked as labelled (ties ½); NaN without pairs. */
  readonly accuracy: number;
}

export interface AlphaEvaluation {
  readonly alpha: readonly number[];
  /** One entry per objective, in α order. */
  readonly objectives: readonly ObjectiveEvaluation[];
}

/** Per-objective loss and accuracy of margins (one per pair). */
export function summarizeMargins(margins: ArrayLike<number>, pairs: readonly PreparedPair[], beta: readonly number[]): ObjectiveEvaluation[] {
  if (margins.length !== pairs.length) throw new TrainerError("INVALID_OPTIONS", `${margins.length} margins for ${pairs.length} pairs`);
  return beta.map((b, i) => {
    let n = 0;
    let loss = 0;
    let correct = 0;
    pairs.forEach((p, j) => {
      if (!p.counts[i]) return;
      const signed = p.arm.sign[i] * margins[j];
      const z = -b * signed;
      loss += Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
      correct += signed > 0 ? 1 : signed === 0 ? 0.5 : 0;
      n++;
    });
    return { pairs: n, loss: n > 0 ? loss / n : NaN, accuracy: n > 0 ? correct / n : NaN };
  });
}

export interface PairScorerOptions {
  readonly config: LlamaConfig;
  readonly weights: ModelWeights;
  readonly spec: AdapterSpec;
  /** Pairs per score-graph run (rows = 2 · batchPairs). */
  readonly batchPairs: number;
  readonly padId: number;
  readonly threads?: number;
  readonly weightsAs?: WeightsPlacement;
  readonly executionProvider?: ExecutionProviderChoice;
}

/** Scores pairs with one adapter spec; keeps one score graph and session per length bucket until `release`. */
export class PairScorer {
  private readonly sessions = new Map<string, Promise<{ graph: ArmScoreGraph; session: EngineSession }>>();

  constructor(private readonly options: PairScorerOptions) {
    if (!Number.isInteger(options.batchPairs) || options.batchPairs < 1) throw new TrainerError("INVALID_OPTIONS", `batchPairs must be an integer ≥ 1, got ${options.batchPairs}`);
  }

  private session(seqLen: number, responseLen: number) {
    const key = `${seqLen}:${responseLen}`;
    let hit = this.sessions.get(key);
    if (!hit) {
      const { config, weights, spec, batchPairs } = this.options;
      hit = (async () => {
        const graph = buildArmScoreGraph(config, weights, spec, { batch: 2 * batchPairs, seqLen, responseLen, dtype: "float32", weightsAs: this.options.weightsAs ?? "initializers" });
        const session = await createEngineSession(graph, {
          executionProvider: this.options.executionProvider ?? "cpu",
          ...(this.options.threads ? { intraOpNumThreads: this.options.threads } : {}),
        });
        return { graph, session };
      })();
      this.sessions.set(key, hit);
    }
    return hit;
  }

  /** margin per pair (response 0 minus response 1 summed log-probs) under `tensors` and, for PBLoRA, α. An aborted
   *  `signal` stops it before its next batch (and before creating another bucket's session) with CancelledError. */
  async margins(pairs: readonly PreparedPair[], tensors: ReadonlyMap<string, Float32Array>, alpha?: readonly number[], signal?: AbortSignal): Promise<Float64Array> {
    const { config, spec, batchPairs, padId } = this.options;
    const k = adapterObjectives(spec);
    if (spec.mode === "pblora" && (!alpha || alpha.length !== k)) throw new TrainerError("INVALID_OPTIONS", `α must have ${k} entries`);
    const out = new Float64Array(pairs.length);
    const slots = responseSlotsByBucket(pairs);
    const byBucket = new Map<number, number[]>();
    pairs.forEach((p, i) => {
      if (!byBucket.has(p.bucket)) byBucket.set(p.bucket, []);
      byBucket.get(p.bucket)!.push(i);
    });
    const adapter = adapterFeeds(config, spec, tensors, "float32");
    const cancelled = () => `held-out pair scoring cancelled (${pairs.length} pairs)`;
    for (const [bucket, members] of byBucket) {
      throwIfCancelled(signal, cancelled);
      const { graph, session } = await this.session(bucket, slots.get(bucket)!);
      for (let s = 0; s < members.length; s += batchPairs) {
        throwIfCancelled(signal, cancelled);
        const chunk = members.slice(s, s + batchPairs);
        const rows = chunk.flatMap((i) => [pairs[i].arm.first, pairs[i].arm.second]);
        const feeds: Record<string, HostTensor> = {
          ...graph.frozenFeeds,
          ...adapter,
          ...packArmRows(rows, 2 * batchPairs, graph.seqLen, graph.responseLen, padId, "float32"),
        };
        if (spec.mode === "pblora") {
          const a = new Float32Array(2 * batchPairs * k);
          for (let r = 0; r < 2 * batchPairs; r++) for (let j = 0; j < k; j++) a[r * k + j] = alpha![j];
          feeds[ARM_INPUTS.alpha] = { dtype: "float32", shape: [2 * batchPairs, k], data: a };
        }
        const result = await session.run(feeds, [ARM_OUTPUTS.sequenceLogps]);
        const logps = result[ARM_OUTPUTS.sequenceLogps].data as Float32Array;
        chunk.forEach((i, c) => (out[i] = logps[2 * c] - logps[2 * c + 1]));
      }
    }
    return out;
  }

  async release(): Promise<void> {
    for (const pending of this.sessions.values()) await (await pending).session.release();
    this.sessions.clear();
  }
}

/** Evaluates one PARM (PBLoRA) adapter at each α; an aborted `signal` stops it between batches (CancelledError). */
export async function evaluateParmAdapter(
  scorer: PairScorer,
  tensors: ReadonlyMap<string, Float32Array>,
  pairs: readonly PreparedPair[],
  beta: readonly number[],
  alphas: readonly (readonly number[])[],
  signal?: AbortSignal,
): Promise<AlphaEvaluation[]> {
  const out: AlphaEvaluation[] = [];
  for (const alpha of alphas) out.push({ alpha: [...alpha], objectives: summarizeMargins(await scorer.margins(pairs, tensors, alpha, signal), pairs, beta) });
  return out;
}

/** Evaluates GenARM's k single-objective ARMs (adapter j scores objective j) combined at each α; an aborted
 *  `signal` stops it between batches (CancelledError). */
export async function evaluateGenarmAdapters(
  scorers: readonly PairScorer[],
  adapters: readonly ReadonlyMap<string, Float32Array>[],
  pairs: readonly PreparedPair[],
  beta: readonly number[],
  alphas: readonly (readonly number[])[],
  signal?: AbortSignal,
): Promise<AlphaEvaluation[]> {
  if (scorers.length !== adapters.length || adapters.length !== beta.length) throw new TrainerError("INVALID_OPTIONS", "one scorer and adapter per objective");
  const perArm: Float64Array[] = [];
  for (let j = 0; j < adapters.length; j++) perArm.push(await scorers[j].margins(pairs, adapters[j], undefined, signal));
  return alphas.map((alpha) => {
    const combined = new Float64Array(pairs.length);
    alpha.forEach((a, j) => {
      if (a !== 0) for (let p = 0; p < pairs.length; p++) combined[p] += a * perArm[j][p];
    });
    return { alpha: [...alpha], objectives: summarizeMargins(combined, pairs, beta) };
  });
}

/** The k vertices e_1 … e_k of the simplex. */
export function simplexVertices(k: number): number[][] {
  return Array.from({ length: k }, (_, i) => Array.from({ length: k }, (_, j) => (i === j ? 1 : 0)));
}
