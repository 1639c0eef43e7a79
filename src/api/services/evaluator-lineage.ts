/** @module api/services/evaluator-lineage
 *
 * Refuses evaluation evaluators trained on the pairs the adapter (ARM) trained on: such an evaluator rewards
 * memorisation. An ARM trains on the TRAIN split of every dataset in its TRAIN job payload (`datasets[]`); an
 * evaluator's lineage is its TRAIN_EVALUATOR job payload (`dataset`, `trainSplit`). Payloads queued before
 * `trainSplit` existed lack it: those evaluators trained on TRAIN. Evaluators without a job (registered by upload)
 * and adapters without a recorded training payload have no lineage and pass. Datasets are immutable once uploaded,
 * so a dataset id names the same records and split assignment on both sides.
 */
import { DATASET_SPLITS, type DatasetSplit } from "../../contracts/index.ts";
import type { TenantServiceDeps } from "./deps.ts";
import { InputValidationError } from "./errors.ts";
import type { ModelRow } from "./models.ts";

/** The split every ARM trains on (gpu-runner/handlers/train-data.ts). */
export const ARM_TRAINING_SPLIT: DatasetSplit = "TRAIN";

/** Where a trained evaluator learned: the dataset and the split whose records trained it. */
export interface EvaluatorLineage {
  datasetId: string;
  trainSplit: DatasetSplit;
  /** True when the job payload predates `trainSplit` and the split is inferred (TRAIN). */
  legacySplit: boolean;
}

/** The ids of the datasets whose TRAIN split trained the adapter; empty when its training payload is unrecorded. */
export function adapterTrainingDatasetIds(adapter: { trainingConfig: unknown }): Set<string> {
  const config = adapter.trainingConfig;
  if (config === null || typeof config !== "object") return new Set();
  const datasets = (config as { datasets?: unknown }).datasets;
  if (!Array.isArray(datasets)) return new Set();
  const ids = new Set<string>();
  for (const dataset of datasets) {
    const id = (dataset as { datasetId?: unknown } | null)?.datasetId;
    if (typeof id === "string") ids.add(id);
  }
  return ids;
}

function isDatasetSplit(value: unknown): value is DatasetSplit {
  return typeof value === "string" && (DATASET_SPLITS as readonly string[]).includes(value);
}

/**
 * The evaluator's training lineage from its TRAIN_EVALUATOR job (looked up in the tenant's scope), or null when it
 * has none: no job (uploaded), or a job that is not a TRAIN_EVALUATOR job with a dataset.
 */
export async function evaluatorLineage(deps: TenantServiceDeps, evaluator: Pick<ModelRow, "jobId" | "config">): Promise<EvaluatorLineage | null> {
  if (evaluator.jobId === null) return null;
  const job = await deps.db.job.findFirst({ where: { id: evaluator.jobId }, select: { kind: true, payload: true } });
  if (!job || job.kind !== "TRAIN_EVALUATOR") return null;
  const payload = (job.payload ?? {}) as { dataset?: { datasetId?: unknown }; trainSplit?: unknown };
  const datasetId = payload.dataset?.datasetId;
  if (typeof datasetId !== "string") return null;
  if (isDatasetSplit(payload.trainSplit)) return { datasetId, trainSplit: payload.trainSplit, legacySplit: false };
  const recorded = (evaluator.config as { trainSplit?: unknown } | null)?.trainSplit;
  if (isDatasetSplit(recorded)) return { datasetId, trainSplit: recorded, legacySplit: false };
  return { datasetId, trainSplit: ARM_TRAINING_SPLIT, legacySplit: true };
}

/**
 * Throws InputValidationError on `field` when `evaluator` was trained on the ARM's training split of one of
 * `adapterDatasetIds` (from adapterTrainingDatasetIds). Reads only; call it before anything is written or queued.
 */
export async function assertEvaluatorDisjointFromAdapter(
  deps: TenantServiceDeps,
  adapter: { name: string },
  adapterDatasetIds: ReadonlySet<string>,
  evaluator: Pick<ModelRow, "name" | "jobId" | "config">,
  field: string,
): Promise<void> {
  if (adapterDatasetIds.size === 0) return;
  const lineage = await evaluatorLineage(deps, evaluator);
  if (lineage === null || lineage.trainSplit !== ARM_TRAINING_SPLIT || !adapterDatasetIds.has(lineage.datasetId)) return;
  const dataset = await deps.db.dataset.findFirst({ where: { id: lineage.datasetId }, select: { name: true } });
  const datasetName = dataset ? JSON.stringify(dataset.name) : lineage.datasetId;
  const splitNote = lineage.legacySplit ? " (its job predates trainSplit; such evaluators trained on TRAIN)" : "";
  throw new InputValidationError(
    field,
    `evaluator ${JSON.stringify(evaluator.name)} was trained on the ${lineage.trainSplit} split of dataset ${datasetName}${splitNote}, ` +
      `the pairs adapter ${JSON.stringify(adapter.name)} trained on, so its scores would reward memorisation; ` +
      `train the evaluator with trainSplit VALIDATION or TEST, or on another dataset, and evaluate with that one`,
  );
}
