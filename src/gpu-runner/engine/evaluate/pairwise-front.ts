/**
 * @module engine/evaluate/pairwise-front
 * The cheap, deterministic front: held-out pairwise preference accuracy of an ARM per objective as α moves along
 * the simplex grid (train/evaluate-pairs.ts does the scoring). For a PARM adapter the margins come from one
 * PBLoRA ARM run at α; for GenARM from Σ_j α_j · margin_j of its single-objective ARMs. No generation, no
 * evaluator: the "reward" of objective i at α is the share of held-out pairs labelled for i that the ARM ranks as
 * labelled. The result is an ordinary Pareto report (HV, MIP, front) over those accuracies.
 */
import { TRAINING_RECIPES, type PairTruncation } from "../../../contracts/training-recipe.ts";
import type { LlamaConfig, ModelWeights } from "../model/config.ts";
import type { AdapterSpec } from "../model/pblora.ts";
import { buildParetoReport, renderParetoSvg, simplexGrid, type ParetoReport, type ReportReferenceRule } from "../pareto/index.ts";
import type { ExecutionProviderChoice } from "../session/index.ts";
import { evaluateGenarmAdapters, evaluateParmAdapter, PairScorer, type AlphaEvaluation } from "../train/evaluate-pairs.ts";
import type { PairTokenizer, PreferencePair } from "../train/pairs.ts";
import { defaultLengthBuckets, preparePairs } from "../train/trainer-data.ts";
import { EvaluationRunError } from "./run.ts";

export interface ArmAdapter {
  readonly spec: AdapterSpec;
  readonly tensors: ReadonlyMap<string, Float32Array>;
}

export type PairwiseArm = { readonly method: "PARM"; readonly adapter: ArmAdapter } | { readonly method: "GENARM"; readonly adapters: readonly ArmAdapter[] };

export interface PairwiseFrontOptions {
  readonly model: { readonly config: LlamaConfig; readonly weights: ModelWeights; readonly tokenizer: PairTokenizer };
  readonly arm: PairwiseArm;
  /** α order; β_i enters the reported loss only. */
  readonly objectives: readonly { readonly name: string; readonly beta: number }[];
  /** Held-out pairs, one label slot per objective. */
  readonly pairs: readonly PreferencePair[];
  readonly step?: number;
  readonly alphas?: readonly (readonly number[])[];
  readonly maxLength?: number;
  readonly maxPromptLength?: number;
  /** The rule the ARM was trained with (train/pairs.ts); default: the recipe's. */
  readonly truncation?: PairTruncation;
  readonly batchPairs?: number;
  readonly threads?: number;
  readonly executionProvider?: ExecutionProviderChoice;
  readonly referencePoint?: readonly number[];
  readonly rule?: ReportReferenceRule;
}

export interface PairwiseFrontResult {
  readonly evaluations: readonly AlphaEvaluation[];
  /** Report over accuracies (objective i's reward = its accuracy). */
  readonly report: ParetoReport;
  readonly svg: string;
}

/** Evaluates the ARM along the grid; see the module comment. */
export async function pairwiseAccuracyFront(options: PairwiseFrontOptions): Promise<PairwiseFrontResult> {
  const { model, arm, objectives } = options;
  const k = objectives.length;
  if (k < 1) throw new EvaluationRunError("INVALID_OPTIONS", "give at least one objective");
  const alphas = options.alphas ? options.alphas.map((a) => [...a]) : simplexGrid(k, options.step ?? 0.1);
  const maxLength = options.maxLength ?? 256;
  const maxPromptLength = options.maxPromptLength ?? Math.floor(maxLength / 2);
  const pairs = preparePairs(model.tokenizer, options.pairs, k, { maxLength, maxPromptLength, truncation: options.truncation ?? TRAINING_RECIPES[arm.method].truncation, buckets: defaultLengthBuckets(maxLength) }, "held-out pair");
  if (pairs.length === 0) throw new EvaluationRunError("INVALID_OPTIONS", "no held-out pairs");
  const beta = objectives.map((o) => o.beta);
  const scorerFor = (spec: AdapterSpec) =>
    new PairScorer({
      config: model.config,
      weights: model.weights,
      spec,
      batchPairs: options.batchPairs ?? 8,
      padId: model.tokenizer.eosId,
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      ...(options.executionProvider !== undefined ? { executionProvider: options.executionProvider } : {}),
    });
  let evaluations: AlphaEvaluation[];
  switch (arm.method) {
    case "PARM": {
      if (arm.adapter.spec.mode !== "pblora" || arm.adapter.spec.numObjectives !== k) {
        throw new EvaluationRunError("INVALID_OPTIONS", `a PARM front needs a PBLoRA adapter over ${k} objectives`);
      }
      const scorer = scorerFor(arm.adapter.spec);
      try {
        evaluations = await evaluateParmAdapter(scorer, arm.adapter.tensors, pairs, beta, alphas);
      } finally {
        await scorer.release();
      }
      break;
    }
    case "GENARM": {
      if (arm.adapters.length !== k) throw new EvaluationRunError("INVALID_OPTIONS", `GenARM needs one adapter per objective (${k}), got ${arm.adapters.length}`);
      const scorers = arm.adapters.map((a) => scorerFor(a.spec));
      try {
        evaluations = await evaluateGenarmAdapters(scorers, arm.adapters.map((a) => a.tensors), pairs, beta, alphas);
      } finally {
        for (const s of scorers) await s.release();
      }
      break;
    }
    default:
      throw new EvaluationRunError("INVALID_OPTIONS", `unknown ARM method ${JSON.stringify((arm as { method: unknown }).method)}`);
  }
  const missing = objectives.filter((_, i) => evaluations[0].objectives[i].pairs === 0).map((o) => o.name);
  if (missing.length > 0) throw new EvaluationRunError("INVALID_OPTIONS", `no held-out pair is labelled for ${missing.join(", ")}`);
  const report = buildParetoReport(
    evaluations.map((e) => ({ alpha: e.alpha, rewards: e.objectives.map((o) => o.accuracy) })),
    {
      objectiveNames: objectives.map((o) => `${o.name} accuracy`),
      ...(options.referencePoint ? { referencePoint: options.referencePoint } : {}),
      ...(options.rule ? { rule: options.rule } : {}),
    },
  );
  return { evaluations, report, svg: renderParetoSvg(report, { title: "Held-out pairwise accuracy along α" }) };
}
