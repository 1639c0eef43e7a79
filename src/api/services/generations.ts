/** @module api/services/generations
 *
 * generate (guided decoding, several α per request) and startEvaluation (Pareto sweep). Both check the base
 * model and the adapter's ARM backbone share a vocabulary, validate every preference vector against the
 * adapter's dimensions (one entry per dimension in α order, finite, ≥ 0, Σ = 1 ± 1e-6) and enqueue a job plus its
 * Generation / Evaluation row in the same transaction. startEvaluation refuses, before writing anything, an
 * evaluator trained on the adapter's training pairs (see evaluator-lineage.ts).
 */
import { MAX_GENERATION_ROWS, MAX_SAMPLES_PER_ALPHA, simplexGridPointCount, validatePreferenceVector, type AdapterRef, type EvaluatePayload, type GeneratePayload, type Sampling } from "../../contracts/index.ts";
import { datasetSplitCount } from "./datasets.ts";
import type { TenantServiceDeps } from "./deps.ts";
import { EntityNotFoundError, InputValidationError, PreferenceVectorError } from "./errors.ts";
import { adapterTrainingDatasetIds, assertEvaluatorDisjointFromAdapter } from "./evaluator-lineage.ts";
import { assertWithinLimits, checkMaxTokensFit, resolveMaxPromptTokens } from "./job-bounds.ts";
import { enqueueJob, type JobRow } from "./jobs.ts";
import { assertSameVocabulary, modelRef, requireModel, type ModelRow } from "./models.ts";
import { adapterPromptTemplate } from "./prompt-templates.ts";
import { readyDatasetRef } from "./training.ts";
import type { Adapter, Evaluation, Generation } from "../db/index.ts";

export type AdapterRow = Adapter;

export type GenerationRow = Generation;

export type EvaluationRow = Evaluation;

export interface SamplingCommand {
  temperature?: number | null;
  topK?: number | null;
  topP?: number | null;
  seed?: number | null;
  stop?: string[] | null;
}

const MAX_PROMPT_CHARS = 100_000;
const MAX_TOKENS = 8192;

/** Sampling options with defaults (greedy), validated; field names start at `field`. */
export function resolveSampling(input: SamplingCommand | null | undefined, field: string): Sampling {
  const sampling: Sampling = {
    temperature: input?.temperature ?? 0,
    topK: input?.topK ?? 0,
    topP: input?.topP ?? 1,
    seed: input?.seed ?? null,
    stop: input?.stop ?? [],
  };
  if (!Number.isFinite(sampling.temperature) || sampling.temperature < 0 || sampling.temperature > 10) {
    throw new InputValidationError(`${field}.temperature`, `must be in [0, 10] (0 = greedy), got ${sampling.temperature}`);
  }
  if (!Number.isInteger(sampling.topK) || sampling.topK < 0) throw new InputValidationError(`${field}.topK`, `must be an integer >= 0, got ${sampling.topK}`);
  if (!Number.isFinite(sampling.topP) || sampling.topP <= 0 || sampling.topP > 1) {
    throw new InputValidationError(`${field}.topP`, `must be in (0, 1], got ${sampling.topP}`);
  }
  if (sampling.seed !== null && (!Number.isInteger(sampling.seed) || sampling.seed < 0 || sampling.seed > 2 ** 32 - 1)) {
    throw new InputValidationError(`${field}.seed`, `must be an integer in [0, 2^32-1], got ${sampling.seed}`);
  }
  if (sampling.stop.length > 16 || sampling.stop.some((s) => s.length === 0)) {
    throw new InputValidationError(`${field}.stop`, "at most 16 non-empty stop strings");
  }
  return sampling;
}

function checkBeta(beta: number, field: string): void {
  if (!Number.isFinite(beta) || beta <= 0) throw new InputValidationError(field, `must be a finite number > 0, got ${beta}`);
}
function checkMaxTokens(maxTokens: number, field: string): void {
  if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > MAX_TOKENS) {
    throw new InputValidationError(field, `must be an integer in [1, ${MAX_TOKENS}], got ${maxTokens}`);
  }
}

export async function requireAdapter(deps: TenantServiceDeps, id: string): Promise<AdapterRow> {
  const adapter = (await deps.db.adapter.findFirst({ where: { id } })) as AdapterRow | null;
  if (!adapter) throw new EntityNotFoundError("Adapter", id);
  return adapter;
}

/** The contract's AdapterRef; the adapter must have its artifact. */
async function adapterRef(deps: TenantServiceDeps, adapter: AdapterRow, armBase: ModelRow, field: string): Promise<AdapterRef> {
  if (!adapter.artifactKey) throw new InputValidationError(field, `adapter ${adapter.name} has no stored artifact yet`);
  const config = (adapter.trainingConfig ?? {}) as { dimensions?: { id: string; name: string; betaR: number }[] };
  const fromConfig = new Map((config.dimensions ?? []).map((d) => [d.id, d]));
  const rows = await deps.db.preferenceDimension.findMany({ where: { id: { in: adapter.dimensionIds } }, select: { id: true, betaR: true } });
  const betaOf = new Map(rows.map((r) => [r.id, r.betaR]));
  return {
    id: adapter.id,
    method: adapter.method,
    location: adapter.artifactKey.includes("://") ? adapter.artifactKey : `obj://artifacts/${adapter.artifactKey}`,
    sha256: adapter.artifactDigest,
    armBase: modelRef(armBase),
    dimensions: adapter.dimensionIds.map((id, i) => ({
      id,
      name: adapter.dimensionNames[i] ?? fromConfig.get(id)?.name ?? id,
      betaR: fromConfig.get(id)?.betaR ?? betaOf.get(id) ?? 0.01,
    })),
  };
}

/** Throws PreferenceVectorError for the first invalid α. */
export function checkAlphas(alphas: readonly (readonly number[])[], dimensionCount: number, field: string): void {
  alphas.forEach((alpha, i) => {
    const problem = validatePreferenceVector(alpha, dimensionCount);
    if (problem) throw new PreferenceVectorError(problem, i, field);
  });
}

export interface GenerateCommand {
  baseModelId: string;
  adapterId?: string | null;
  prompt: string;
  alphas: number[][];
  beta: number;
  sampling?: SamplingCommand | null;
  maxTokens: number;
  /** Outputs per α (default 1; the OpenAI routes' `n` when sampling): contracts/jobs.ts `samplesPerAlpha`. */
  samplesPerAlpha?: number;
}

export async function generate(deps: TenantServiceDeps, command: GenerateCommand): Promise<{ generation: GenerationRow; job: JobRow }> {
  if (command.prompt.length === 0) throw new InputValidationError("input.prompt", "must not be empty");
  if (command.prompt.length > MAX_PROMPT_CHARS) throw new InputValidationError("input.prompt", `must be at most ${MAX_PROMPT_CHARS} characters`);
  if (command.alphas.length === 0) throw new InputValidationError("input.alphas", "give at least one preference vector");
  if (command.alphas.length > MAX_GENERATION_ROWS) throw new InputValidationError("input.alphas", `at most ${MAX_GENERATION_ROWS} preference vectors per request`);
  checkBeta(command.beta, "input.beta");
  checkMaxTokens(command.maxTokens, "input.maxTokens");
  const sampling = resolveSampling(command.sampling, "input.sampling");
  const base = await requireModel(deps, command.baseModelId);
  if (base.kind === "EVALUATOR") throw new InputValidationError("input.baseModelId", "an EVALUATOR model cannot generate");
  checkMaxTokensFit(base, command.maxTokens, "input.maxTokens");
  const samples = command.samplesPerAlpha ?? 1;
  if (!Number.isInteger(samples) || samples < 1 || samples > MAX_SAMPLES_PER_ALPHA) {
    throw new InputValidationError("input.samplesPerAlpha", `must be an integer from 1 to ${MAX_SAMPLES_PER_ALPHA}`);
  }
  if (command.alphas.length * samples > MAX_GENERATION_ROWS) {
    throw new InputValidationError("input.samplesPerAlpha", `preference vectors × samples must be at most ${MAX_GENERATION_ROWS}`);
  }
  await assertWithinLimits(deps, [
    { limit: "maxGenerationTokens", requested: command.alphas.length * samples * command.maxTokens, field: "input.maxTokens", detail: "preference vectors × samples × maxTokens" },
  ]);

  let arm: AdapterRef | null = null;
  let alphas = command.alphas;
  if (command.adapterId) {
    const adapter = await requireAdapter(deps, command.adapterId);
    checkAlphas(alphas, adapter.dimensionIds.length, "input.alphas");
    const armBase = await requireModel(deps, adapter.baseModelId);
    assertSameVocabulary(base, armBase);
    arm = await adapterRef(deps, adapter, armBase, "input.adapterId");
  } else {
    if (!alphas.every((a) => a.length === 0) || alphas.length !== 1) {
      throw new InputValidationError("input.alphas", "without an adapter, decoding is unguided: pass alphas: [[]]");
    }
    alphas = [[]];
  }
  const payload: GeneratePayload = {
    base: modelRef(base),
    arm,
    prompt: command.prompt,
    alphas,
    beta: command.beta,
    sampling,
    maxTokens: command.maxTokens,
    samplesPerAlpha: samples,
  };
  const { job, attached } = await enqueueJob(deps, "generate", payload, async (tx, job) =>
    (await tx.generation.create({
      data: {
        tenantId: deps.tenantId,
        jobId: job.id,
        baseModelId: base.id,
        adapterId: command.adapterId ?? null,
        prompt: command.prompt,
        alphas,
        beta: command.beta,
        sampling,
        maxTokens: command.maxTokens,
      },
    })) as GenerationRow,
  );
  return { generation: attached, job };
}

export interface StartEvaluationCommand {
  adapterId: string;
  baseModelId: string;
  datasetId: string;
  split: "TRAIN" | "VALIDATION" | "TEST";
  promptCount: number;
  gridStep: number;
  evaluatorIds: string[];
  referencePoint?: number[] | null;
  beta: number;
  sampling?: SamplingCommand | null;
  maxTokens: number;
  /** Null: the base model's context minus maxTokens (job-bounds.ts). */
  maxPromptTokens?: number | null;
}

export async function startEvaluation(
  deps: TenantServiceDeps,
  command: StartEvaluationCommand,
): Promise<{ evaluation: EvaluationRow; job: JobRow }> {
  if (!Number.isFinite(command.gridStep) || command.gridStep <= 0 || command.gridStep > 1) {
    throw new InputValidationError("input.gridStep", `must be in (0, 1], got ${command.gridStep}`);
  }
  const steps = 1 / command.gridStep;
  if (Math.abs(steps - Math.round(steps)) > 1e-9) {
    throw new InputValidationError("input.gridStep", `1/gridStep must be an integer (e.g. 0.1, 0.25), got ${command.gridStep}`);
  }
  if (!Number.isInteger(command.promptCount) || command.promptCount < 1 || command.promptCount > 100_000) {
    throw new InputValidationError("input.promptCount", `must be an integer in [1, 100000], got ${command.promptCount}`);
  }
  checkBeta(command.beta, "input.beta");
  checkMaxTokens(command.maxTokens, "input.maxTokens");
  const sampling = resolveSampling(command.sampling, "input.sampling");

  const adapter = await requireAdapter(deps, command.adapterId);
  const k = adapter.dimensionIds.length;
  const points = simplexGridPointCount(Math.round(steps), k);
  await assertWithinLimits(deps, [
    { limit: "maxGridPoints", requested: points, field: "input.gridStep", detail: `a grid step of ${command.gridStep} over ${k} dimensions` },
    { limit: "maxEvaluationTokens", requested: points * command.promptCount * command.maxTokens, field: "input.promptCount", detail: "grid points × prompts × maxTokens" },
  ]);
  const base = await requireModel(deps, command.baseModelId);
  if (base.kind === "EVALUATOR") throw new InputValidationError("input.baseModelId", "an EVALUATOR model cannot generate");
  checkMaxTokensFit(base, command.maxTokens, "input.maxTokens");
  const maxPromptTokens = resolveMaxPromptTokens(base, command.maxTokens, command.maxPromptTokens, "input.maxPromptTokens");
  const armBase = await requireModel(deps, adapter.baseModelId);
  assertSameVocabulary(base, armBase);
  if (command.evaluatorIds.length !== k) {
    throw new InputValidationError("input.evaluatorIds", `expected ${k} evaluators (one per adapter dimension, in α order), got ${command.evaluatorIds.length}`);
  }
  const adapterDatasetIds = adapterTrainingDatasetIds(adapter);
  const evaluators: ModelRow[] = [];
  for (const [i, id] of command.evaluatorIds.entries()) {
    const evaluator = await requireModel(deps, id);
    if (evaluator.kind !== "EVALUATOR") throw new InputValidationError(`input.evaluatorIds[${i}]`, `model ${evaluator.name} is ${evaluator.kind}, not an EVALUATOR`);
    if (evaluator.dimensionId !== null && evaluator.dimensionId !== adapter.dimensionIds[i]) {
      throw new InputValidationError(
        `input.evaluatorIds[${i}]`,
        `evaluator ${evaluator.name} scores another dimension than the adapter's dimension ${i} (${adapter.dimensionNames[i]})`,
      );
    }
    await assertEvaluatorDisjointFromAdapter(deps, adapter, adapterDatasetIds, evaluator, `input.evaluatorIds[${i}]`);
    evaluators.push(evaluator);
  }
  const referencePoint = command.referencePoint ?? null;
  if (referencePoint !== null && (referencePoint.length !== k || !referencePoint.every(Number.isFinite))) {
    throw new InputValidationError("input.referencePoint", `must have ${k} finite coordinates`);
  }
  const { ref, row } = await readyDatasetRef(deps, command.datasetId, "input.datasetId", new Set(adapter.dimensionIds));
  const available = datasetSplitCount(row, command.split);
  if (available === 0) throw new InputValidationError("input.split", `dataset ${row.name} has no ${command.split} pairs`);
  if (command.promptCount > available) {
    throw new InputValidationError("input.promptCount", `dataset ${row.name} has only ${available} ${command.split} pairs`);
  }
  const payload: EvaluatePayload = {
    adapter: await adapterRef(deps, adapter, armBase, "input.adapterId"),
    base: modelRef(base),
    gridStep: command.gridStep,
    prompts: { dataset: ref, split: command.split, count: command.promptCount },
    evaluators: evaluators.map(modelRef),
    referencePoint,
    beta: command.beta,
    sampling,
    maxTokens: command.maxTokens,
    maxPromptTokens,
    promptTemplate: adapterPromptTemplate(adapter, armBase),
  };
  const { job, attached } = await enqueueJob(deps, "evaluate", payload, async (tx, job) =>
    (await tx.evaluation.create({
      data: {
        tenantId: deps.tenantId,
        jobId: job.id,
        adapterId: adapter.id,
        gridStep: command.gridStep,
        split: command.split,
        promptCount: command.promptCount,
        evaluatorIds: command.evaluatorIds,
        referencePoint: referencePoint ?? [],
      },
    })) as EvaluationRow,
  );
  return { evaluation: attached, job };
}
