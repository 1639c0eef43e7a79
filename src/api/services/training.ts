/** @module api/services/training
 *
 * startTraining (PARM or GenARM ARM) and trainEvaluator: validate the request against the tenant's rows, build
 * the contract payload, enqueue the job (jobs.ts).
 *
 * α order of a trained adapter = the chosen dimensions sorted by their tenant `position`; the payload's
 * `dimensions` follow it and every preference vector used with the adapter must too.
 *
 * The training payload carries the base model's prompt template (prompt-templates.ts): the runner renders the
 * bare prompts of PKU_SAFERLHF and GENERIC datasets through it, and the adapter's chat completions use it.
 */
import {
  LORA_DROPOUT_MAX_EXCLUSIVE,
  TRAINING_RECIPES,
  trainingPairPasses,
  type AdapterMethod,
  type AlphaCadence,
  type PairTruncation,
  type DatasetRef,
  type DatasetSplit,
  type DimensionRef,
  type EvaluatorPooling,
  type TrainEvaluatorPayload,
  type TrainJobPayload,
} from "../../contracts/index.ts";
import { datasetDimensionMap, datasetSnapshotKey, datasetSplitCount, datasetSplitRatios, checkName, type DatasetRow } from "./datasets.ts";
import type { TenantServiceDeps } from "./deps.ts";
import { EntityNotFoundError, InputValidationError } from "./errors.ts";
import { enqueueJob, type JobRow } from "./jobs.ts";
import { assertAdapterNameFree } from "./adapter-names.ts";
import { assertWithinLimits, checkAdapterTargets, resolveMaxLength, resolveMaxPromptLength } from "./job-bounds.ts";
import { modelRef, requireModel } from "./models.ts";
import { modelPromptTemplate } from "./prompt-templates.ts";

export interface TrainingDimensionCommand {
  dimensionId: string;
  datasetId: string;
  betaR?: number | null;
}

export interface StartTrainingCommand {
  adapterName: string;
  method: AdapterMethod;
  baseModelId: string;
  dimensions: TrainingDimensionCommand[];
  /** Null: the method's recipe (r1, r2, loraAlpha, loraDropout, alphaPer, truncation). */
  r1?: number | null;
  r2?: number | null;
  loraAlpha?: number | null;
  /** Null: the method's recipe (contracts/training-recipe.ts). */
  loraDropout?: number | null;
  targets: string[];
  learningRate: number;
  /** Null: the method's recipe. */
  epochs?: number | null;
  batchSize: number;
  gradAccum: number;
  warmupSteps: number;
  weightDecay: number;
  dirichletP: number;
  /** Null: the method's recipe. */
  alphaPer?: AlphaCadence | null;
  /** Null: the method's recipe. */
  truncation?: PairTruncation | null;
  seed: number;
  /** Null: derived from the base model (job-bounds.ts). */
  maxPromptLength?: number | null;
  maxLength?: number | null;
  checkpointEvery: number;
  maxPairs?: number | null;
  maxSteps?: number | null;
}

export interface DimensionRow {
  id: string;
  name: string;
  betaR: number;
  position: number;
}

const MAX_RANK = 256;
const MAX_SEED = 2 ** 32 - 1;

function positiveInt(field: string, value: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < 1 || value > max) throw new InputValidationError(field, `must be an integer in [1, ${max}], got ${value}`);
}
function nonNegativeInt(field: string, value: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new InputValidationError(field, `must be an integer in [0, ${max}], got ${value}`);
}
function positiveFinite(field: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) throw new InputValidationError(field, `must be a finite number > 0, got ${value}`);
}

/** A READY dataset of the tenant, as the contract's DatasetRef restricted to `dimensionIds`. */
export async function readyDatasetRef(
  deps: TenantServiceDeps,
  datasetId: string,
  field: string,
  dimensionIds: ReadonlySet<string>,
): Promise<{ ref: DatasetRef; row: DatasetRow }> {
  const row = (await deps.db.dataset.findFirst({ where: { id: datasetId } })) as DatasetRow | null;
  if (!row) throw new EntityNotFoundError("Dataset", datasetId);
  if (row.status !== "READY") {
    throw new InputValidationError(field, `dataset ${row.name} is ${row.status}; upload records that pass validation first`);
  }
  const dimensionMap = Object.fromEntries(Object.entries(datasetDimensionMap(row)).filter(([, id]) => dimensionIds.has(id)));
  const key = row.snapshotKey ?? datasetSnapshotKey(deps.tenantId, row.id);
  const location = key.includes("://") ? key : `obj://artifacts/${key}`;
  return {
    row,
    ref: {
      datasetId: row.id,
      format: row.format,
      snapshot: { location, encoding: "records-jsonl", sha256: null, recordCount: row.recordCount },
      splitRatios: datasetSplitRatios(row),
      dimensionMap,
    },
  };
}

async function loadDimensions(deps: TenantServiceDeps, ids: string[]): Promise<Map<string, DimensionRow>> {
  const rows = (await deps.db.preferenceDimension.findMany({
    where: { id: { in: ids } },
    select: { id: true, name: true, betaR: true, position: true },
  })) as DimensionRow[];
  return new Map(rows.map((row) => [row.id, row]));
}

export async function startTraining(deps: TenantServiceDeps, command: StartTrainingCommand): Promise<JobRow> {
  const adapterName = checkName(command.adapterName, "input.adapterName");
  const recipe = TRAINING_RECIPES[command.method];
  const r1 = command.r1 ?? recipe.r1;
  const r2 = command.r2 ?? recipe.r2;
  const loraAlpha = command.loraAlpha ?? recipe.loraAlpha;
  positiveInt("input.r1", r1, MAX_RANK);
  positiveInt("input.r2", r2, MAX_RANK);
  positiveFinite("input.loraAlpha", loraAlpha);
  const loraDropout = command.loraDropout ?? recipe.loraDropout;
  if (!(loraDropout >= 0 && loraDropout < LORA_DROPOUT_MAX_EXCLUSIVE)) throw new InputValidationError("input.loraDropout", `must be in [0, 1), got ${loraDropout}`);
  positiveFinite("input.learningRate", command.learningRate);
  const epochs = command.epochs ?? recipe.epochs;
  positiveInt("input.epochs", epochs, 10_000);
  positiveInt("input.batchSize", command.batchSize, 65_536);
  positiveInt("input.gradAccum", command.gradAccum, 65_536);
  nonNegativeInt("input.warmupSteps", command.warmupSteps);
  if (!Number.isFinite(command.weightDecay) || command.weightDecay < 0) {
    throw new InputValidationError("input.weightDecay", `must be a finite number >= 0, got ${command.weightDecay}`);
  }
  positiveFinite("input.dirichletP", command.dirichletP);
  nonNegativeInt("input.seed", command.seed, MAX_SEED);
  nonNegativeInt("input.checkpointEvery", command.checkpointEvery);
  if (command.maxPairs != null) positiveInt("input.maxPairs", command.maxPairs);
  if (command.maxSteps != null) positiveInt("input.maxSteps", command.maxSteps);
  checkAdapterTargets(command.targets, "input.targets");
  if (command.dimensions.length === 0) throw new InputValidationError("input.dimensions", "name at least one dimension");
  if (command.dimensions.length > 16) throw new InputValidationError("input.dimensions", "at most 16 dimensions");
  const seen = new Set<string>();
  command.dimensions.forEach((d, i) => {
    if (seen.has(d.dimensionId)) throw new InputValidationError(`input.dimensions[${i}].dimensionId`, "each dimension may appear once");
    seen.add(d.dimensionId);
    if (d.betaR !== undefined && d.betaR !== null) positiveFinite(`input.dimensions[${i}].betaR`, d.betaR);
  });

  const baseModel = await requireModel(deps, command.baseModelId);
  if (baseModel.kind === "EVALUATOR") {
    throw new InputValidationError("input.baseModelId", "an ARM is trained on a BASE or ARM_BASE model, not an EVALUATOR");
  }
  const maxLength = resolveMaxLength(baseModel, command.maxLength, "input.maxLength");
  const maxPromptLength = resolveMaxPromptLength(maxLength, command.maxPromptLength, "input.maxPromptLength");
  const dimensionRows = await loadDimensions(deps, [...seen]);
  const missing = command.dimensions.find((d) => !dimensionRows.has(d.dimensionId));
  if (missing) throw new EntityNotFoundError("PreferenceDimension", missing.dimensionId);

  const ordered = command.dimensions
    .map((d, inputIndex) => ({ ...d, inputIndex, row: dimensionRows.get(d.dimensionId)! }))
    .sort((a, b) => a.row.position - b.row.position);
  const datasets = new Map<string, { ref: DatasetRef; row: DatasetRow }>();
  for (const d of ordered) {
    const field = `input.dimensions[${d.inputIndex}].datasetId`;
    let dataset = datasets.get(d.datasetId);
    if (!dataset) {
      dataset = await readyDatasetRef(deps, d.datasetId, field, seen);
      datasets.set(d.datasetId, dataset);
    }
    if (!Object.values(dataset.ref.dimensionMap).includes(d.dimensionId)) {
      throw new InputValidationError(field, `dataset ${d.datasetId} has no label mapped to dimension ${d.row.name}`);
    }
  }
  // PARM trains once over every dataset; GenARM trains one phase per dimension over its dataset.
  const phases = command.method === "PARM" ? [...datasets.values()] : ordered.map((d) => datasets.get(d.datasetId)!);
  const passes = trainingPairPasses({
    pairsPerPhase: phases.map((d) => datasetSplitCount(d.row, "TRAIN")),
    epochs,
    maxPairs: command.maxPairs ?? null,
    maxSteps: command.maxSteps ?? null,
    pairsPerUpdate: command.batchSize * command.gradAccum,
  });
  await assertWithinLimits(deps, [
    { limit: "maxTrainingPairPasses", requested: passes, field: "input.epochs", detail: "training pairs × epochs (lower epochs, or set maxPairs or maxSteps)" },
  ]);
  const dimensions: DimensionRef[] = ordered.map((d) => ({ id: d.row.id, name: d.row.name, betaR: d.betaR ?? d.row.betaR }));
  const payload: TrainJobPayload = {
    method: command.method,
    adapterName,
    baseModel: modelRef(baseModel),
    dimensions,
    datasets: [...datasets.values()].map((d) => d.ref),
    r1,
    r2,
    loraAlpha,
    loraDropout,
    targets: command.targets,
    lr: command.learningRate,
    epochs,
    batchSize: command.batchSize,
    gradAccum: command.gradAccum,
    warmupSteps: command.warmupSteps,
    weightDecay: command.weightDecay,
    dirichletP: command.dirichletP,
    alphaPer: command.alphaPer ?? recipe.alphaPer,
    truncation: command.truncation ?? recipe.truncation,
    seed: command.seed,
    maxPromptLength,
    maxLength,
    checkpointEvery: command.checkpointEvery,
    maxPairs: command.maxPairs ?? null,
    maxSteps: command.maxSteps ?? null,
    promptTemplate: modelPromptTemplate(baseModel),
  };
  return (await enqueueJob(deps, "train", payload, (tx, job) => assertAdapterNameFree(tx, adapterName, "input.adapterName", job.id))).job;
}

export interface TrainEvaluatorCommand {
  evaluatorName: string;
  dimensionId: string;
  baseModelId: string;
  datasetId: string;
  learningRate: number;
  epochs: number;
  batchSize: number;
  seed: number;
  /** Null: derived from the base model (job-bounds.ts). */
  maxLength?: number | null;
  /** Where the score head reads: "last" token or "mean" over the response tokens. */
  pooling: EvaluatorPooling;
  /** The split that trains the evaluator (keep it disjoint from the ARM's TRAIN split) and the one held out. */
  trainSplit: DatasetSplit;
  heldOutSplit: DatasetSplit;
}

/**
 * Queues a TRAIN_EVALUATOR job. Refuses (InputValidationError on the field) equal train and held-out splits and a
 * dataset whose train split has no records; the payload schema checks the pooling and split values.
 */
export async function trainEvaluator(deps: TenantServiceDeps, command: TrainEvaluatorCommand): Promise<JobRow> {
  const evaluatorName = checkName(command.evaluatorName, "input.evaluatorName");
  positiveFinite("input.learningRate", command.learningRate);
  positiveInt("input.epochs", command.epochs, 10_000);
  positiveInt("input.batchSize", command.batchSize, 65_536);
  nonNegativeInt("input.seed", command.seed, MAX_SEED);
  if (command.heldOutSplit === command.trainSplit) {
    throw new InputValidationError("input.heldOutSplit", `must differ from trainSplit (both ${command.trainSplit}): the held-out accuracy needs pairs the evaluator did not train on`);
  }
  if (await deps.db.model.findFirst({ where: { name: evaluatorName }, select: { id: true } })) {
    throw new InputValidationError("input.evaluatorName", `a model named ${JSON.stringify(evaluatorName)} already exists`);
  }
  const baseModel = await requireModel(deps, command.baseModelId);
  const maxLength = resolveMaxLength(baseModel, command.maxLength, "input.maxLength");
  const dimension = (await loadDimensions(deps, [command.dimensionId])).get(command.dimensionId);
  if (!dimension) throw new EntityNotFoundError("PreferenceDimension", command.dimensionId);
  const { ref, row } = await readyDatasetRef(deps, command.datasetId, "input.datasetId", new Set([dimension.id]));
  const labelName = Object.entries(ref.dimensionMap).find(([, id]) => id === dimension.id)?.[0];
  if (!labelName) throw new InputValidationError("input.datasetId", `dataset ${command.datasetId} has no label mapped to dimension ${dimension.name}`);
  if (datasetSplitCount(row, command.trainSplit) === 0) {
    throw new InputValidationError(
      "input.trainSplit",
      `dataset ${row.name} has no ${command.trainSplit} records; register it with a larger ${command.trainSplit.toLowerCase()} share (splitRatios) or choose another trainSplit`,
    );
  }
  const passes = trainingPairPasses({
    pairsPerPhase: [datasetSplitCount(row, command.trainSplit)],
    epochs: command.epochs,
    maxPairs: null,
    maxSteps: null,
    pairsPerUpdate: command.batchSize,
  });
  await assertWithinLimits(deps, [{ limit: "maxTrainingPairPasses", requested: passes, field: "input.epochs", detail: "training pairs × epochs" }]);
  const payload: TrainEvaluatorPayload = {
    evaluatorName,
    dimension: { id: dimension.id, name: dimension.name, betaR: dimension.betaR },
    baseModel: modelRef(baseModel),
    dataset: ref,
    labelName,
    lr: command.learningRate,
    epochs: command.epochs,
    batchSize: command.batchSize,
    seed: command.seed,
    maxLength,
    pooling: command.pooling,
    trainSplit: command.trainSplit,
    heldOutSplit: command.heldOutSplit,
  };
  return (await enqueueJob(deps, "train-evaluator", payload)).job;
}
