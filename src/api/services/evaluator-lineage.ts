/** @module api/services/evaluator-lineage
 *
 * Refuses evaluation evaluators trained on the pairs the adapter (ARM) trained on: such an evaluator rewards
 * memorisation. The comparison is by pair, not by dataset: two records are the same pair when their `pair_hash`
 * (sha256 of prompt and both responses, contracts/datasets/split.ts) is equal, whichever dataset holds them.
 * - The ARM's training pairs: the TRAIN records of every dataset in its training payload (`datasets[].datasetId`).
 * - The evaluator's training pairs: the records of its TRAIN_EVALUATOR job's `dataset` in the job's `trainSplit`.
 *   Payloads queued before `trainSplit` existed lack it: those evaluators trained on TRAIN.
 * Evaluators without a job (registered by upload) and adapters without a recorded training payload have no lineage
 * and pass. Datasets are immutable once uploaded, so the stored records are the ones both sides trained on.
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

/** What the evaluator's training pairs share with the ARM's (see findSharedTrainingPairs). */
export interface SharedTrainingPairs {
  /** Distinct pairs (by pair hash) in both the evaluator's training split and an ARM TRAIN split. */
  sharedPairs: number;
  /** The smallest upload line, in the evaluator's dataset, of a shared pair; null when none is shared. */
  exampleLine: number | null;
  /** Name of the evaluator's dataset; null when it is not visible to the tenant. */
  evaluatorDatasetName: string | null;
  /** Names (sorted) of the adapter's datasets whose TRAIN split holds a shared pair. */
  adapterDatasetNames: string[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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

interface SharedTrainingPairsRow {
  shared_pairs: number;
  example_line: number | null;
  evaluator_dataset_name: string | null;
  adapter_dataset_names: string[];
}

/**
 * Counts the distinct pairs (by `pair_hash`) that the evaluator's training split (`lineage`) shares with the TRAIN
 * split of `adapterDatasetIds`, in ONE query on the tenant-scoped client (row-level security limits both sides to
 * the tenant's records). Ids that are not UUIDs name no records and are ignored. Each side is reduced to distinct
 * hashes before the join, so duplicated pairs do not multiply the work.
 */
export async function findSharedTrainingPairs(
  deps: TenantServiceDeps,
  lineage: Pick<EvaluatorLineage, "datasetId" | "trainSplit">,
  adapterDatasetIds: ReadonlySet<string>,
): Promise<SharedTrainingPairs> {
  const adapterIds = [...adapterDatasetIds].filter((id) => UUID.test(id));
  if (!UUID.test(lineage.datasetId) || adapterIds.length === 0) {
    return { sharedPairs: 0, exampleLine: null, evaluatorDatasetName: null, adapterDatasetNames: [] };
  }
  const rows = await deps.db.$queryRaw<SharedTrainingPairsRow[]>`
    WITH evaluator_pairs AS (
      SELECT pair_hash, min(line) AS line
      FROM dataset_records
      WHERE dataset_id = ${lineage.datasetId}::uuid AND split = ${lineage.trainSplit}::"DatasetSplit"
      GROUP BY pair_hash
    ), arm_pairs AS (
      SELECT DISTINCT pair_hash, dataset_id
      FROM dataset_records
      WHERE dataset_id = ANY(${adapterIds}::uuid[]) AND split = ${ARM_TRAINING_SPLIT}::"DatasetSplit"
    ), shared AS (
      SELECT e.pair_hash, e.line, a.dataset_id
      FROM evaluator_pairs e JOIN arm_pairs a ON a.pair_hash = e.pair_hash
    )
    SELECT
      count(DISTINCT shared.pair_hash)::int AS shared_pairs,
      min(shared.line)::int AS example_line,
      (SELECT name FROM datasets WHERE id = ${lineage.datasetId}::uuid) AS evaluator_dataset_name,
      coalesce(array_agg(DISTINCT d.name ORDER BY d.name) FILTER (WHERE d.name IS NOT NULL), ARRAY[]::text[]) AS adapter_dataset_names
    FROM shared LEFT JOIN datasets d ON d.id = shared.dataset_id`;
  const row = rows[0];
  if (!row) return { sharedPairs: 0, exampleLine: null, evaluatorDatasetName: null, adapterDatasetNames: [] };
  return {
    sharedPairs: Number(row.shared_pairs),
    exampleLine: row.example_line === null ? null : Number(row.example_line),
    evaluatorDatasetName: row.evaluator_dataset_name,
    adapterDatasetNames: row.adapter_dataset_names,
  };
}

function pairsWord(count: number): string {
  return count === 1 ? "1 pair" : `${count} pairs`;
}

/**
 * Throws InputValidationError on `field` when `evaluator` was trained on at least one pair that the adapter trained
 * on: a pair (by pair hash) of its training split that is also in the TRAIN split of one of `adapterDatasetIds`
 * (from adapterTrainingDatasetIds). Reads only; call it before anything is written or queued.
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
  if (lineage === null) return;
  const shared = await findSharedTrainingPairs(deps, lineage, adapterDatasetIds);
  if (shared.sharedPairs === 0) return;
  const datasetName = shared.evaluatorDatasetName === null ? lineage.datasetId : JSON.stringify(shared.evaluatorDatasetName);
  const splitNote = lineage.legacySplit ? " (its job predates trainSplit; such evaluators trained on TRAIN)" : "";
  const example = shared.exampleLine === null ? "" : ` (e.g. line ${shared.exampleLine} of ${datasetName})`;
  const names = shared.adapterDatasetNames.map((name) => JSON.stringify(name));
  const adapterDatasets = names.length === 0 ? "its datasets" : `${names.length === 1 ? "dataset" : "datasets"} ${names.join(", ")}`;
  throw new InputValidationError(
    field,
    `evaluator ${JSON.stringify(evaluator.name)} was trained on the ${lineage.trainSplit} split of dataset ${datasetName}${splitNote}, ` +
      `which shares ${pairsWord(shared.sharedPairs)}${example} with the ${ARM_TRAINING_SPLIT} split of ${adapterDatasets} ` +
      `that adapter ${JSON.stringify(adapter.name)} trained on, so its scores would reward memorisation; ` +
      `train the evaluator on pairs the adapter did not train on (trainSplit VALIDATION or TEST, or on another dataset without these pairs) and evaluate with that one`,
  );
}
