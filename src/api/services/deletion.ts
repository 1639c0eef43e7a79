/** @module api/services/deletion
 *
 * Deleting a tenant's datasets, models, adapters, generations and evaluations.
 *
 * Contracts (every delete):
 * - One tenant transaction under the tenant's job lock (resource-usage.ts `lockTenantJobs`): load the row
 *   (EntityNotFoundError when missing or another tenant's), refuse while something uses it (ResourceInUseError
 *   naming the users; nothing changes), delete it. Rows that belong to it go with it (dataset records, Pareto
 *   points, a generation's or evaluation's job and its events).
 * - Quota is freed by the deletion itself: the allowances sum the remaining rows (datasets' `byteSize` against
 *   `maxDatasetBytes`, models' `storedBytes` against `maxModelBytes`); `freedBytes` says how much.
 * - After commit the row's stored files are purged (artifact-purge.ts); files registered by location under the
 *   model roots are never deleted.
 * What uses what: resource-usage.ts. A generation or evaluation whose job is QUEUED or RUNNING must be cancelled
 * (cancelJob) first.
 */
import type { TenantTransactionClient } from "../db/index.ts";
import { isPlatformStoredModel, purgeAdapterArtifacts, purgeDatasetSnapshot, purgeEvaluationArtifacts, purgeModelFile, type PurgeDeps } from "./artifact-purge.ts";
import type { TenantServiceDeps } from "./deps.ts";
import { EntityNotFoundError } from "./errors.ts";
import { ACTIVE_JOB_STATUSES } from "./jobs.ts";
import { activeJobsReferencing, assertUnused, datasetUsers, lockTenantJobs, modelUsers } from "./resource-usage.ts";

export interface DeletionOutcome {
  /** Row uuid of the deleted entity. */
  deletedId: string;
  /** Bytes the deletion returned to the tenant's storage quota (0 for kinds without one). */
  freedBytes: bigint;
}

/** Deleting a dataset with many records cascades through them; allow for it. */
const DELETE_TRANSACTION_TIMEOUT_MS = 10 * 60 * 1000;

async function inJobLock<T>(deps: TenantServiceDeps, run: (tx: TenantTransactionClient) => Promise<T>): Promise<T> {
  return deps.db.$transaction(
    async (tx) => {
      await lockTenantJobs(tx, deps.tenantId);
      return run(tx);
    },
    { timeout: DELETE_TRANSACTION_TIMEOUT_MS, maxWait: 10_000 },
  );
}

function purgeDeps(deps: TenantServiceDeps): PurgeDeps {
  return { modelFiles: deps.modelFiles, snapshots: deps.snapshots, log: deps.log };
}

/** Refused while an adapter trained on it, an evaluator model was trained on it, or an active job reads it. */
export async function deleteDataset(deps: TenantServiceDeps, id: string): Promise<DeletionOutcome> {
  const row = await inJobLock(deps, async (tx) => {
    const dataset = await tx.dataset.findFirst({ where: { id }, select: { id: true, byteSize: true, snapshotKey: true } });
    if (!dataset) throw new EntityNotFoundError("Dataset", id);
    assertUnused("Dataset", id, await datasetUsers(tx, id), "delete those adapters and evaluator models (and cancel those jobs) first");
    await tx.dataset.delete({ where: { id } });
    return dataset;
  });
  await purgeDatasetSnapshot(purgeDeps(deps), row.snapshotKey);
  return { deletedId: id, freedBytes: row.byteSize };
}

/** Refused while an adapter uses it as backbone, an evaluation scored with it, or an active job reads it. */
export async function deleteModel(deps: TenantServiceDeps, id: string): Promise<DeletionOutcome> {
  const { model, shared } = await inJobLock(deps, async (tx) => {
    const model = await tx.model.findFirst({ where: { id }, select: { id: true, location: true, storedBytes: true, jobId: true } });
    if (!model) throw new EntityNotFoundError("Model", id);
    assertUnused("Model", id, await modelUsers(tx, id), "delete those adapters and evaluations (and cancel those jobs) first");
    // Two uploads of the same file by one tenant share a stored location: the file stays while another row names it.
    const shared = (await tx.model.count({ where: { location: model.location, id: { not: id } } })) > 0;
    await tx.model.delete({ where: { id } });
    return { model, shared };
  });
  if (!shared && isPlatformStoredModel(model, deps.tenantId)) await purgeModelFile(purgeDeps(deps), model.location);
  return { deletedId: id, freedBytes: model.storedBytes ?? 0n };
}

/** Refused while a QUEUED or RUNNING generation or evaluation job is guided by it. */
export async function deleteAdapter(deps: TenantServiceDeps, id: string): Promise<DeletionOutcome> {
  const row = await inJobLock(deps, async (tx) => {
    const adapter = await tx.adapter.findFirst({ where: { id }, select: { id: true, artifactKey: true, jobId: true } });
    if (!adapter) throw new EntityNotFoundError("Adapter", id);
    assertUnused("Adapter", id, await activeJobsReferencing(tx, id), "cancel those jobs or wait until they end");
    await tx.adapter.delete({ where: { id } });
    return adapter;
  });
  await purgeAdapterArtifacts(purgeDeps(deps), deps.tenantId, row);
  return { deletedId: id, freedBytes: 0n };
}

/** Deletes the job row of a generation or evaluation (its events cascade); refused while the job is active. */
async function deleteOwnJob(tx: TenantTransactionClient, entity: string, id: string, jobId: string): Promise<void> {
  const job = await tx.job.findFirst({ where: { id: jobId }, select: { id: true, status: true } });
  if (!job) return;
  if (ACTIVE_JOB_STATUSES.includes(job.status)) {
    assertUnused(entity, id, [{ entity: "Job", id: job.id }], `its job is ${job.status}; cancel it (cancelJob) first`);
  }
  await tx.job.delete({ where: { id: job.id } });
}

/** Deletes a finished generation with its job and streamed tokens (job events). */
export async function deleteGeneration(deps: TenantServiceDeps, id: string): Promise<DeletionOutcome> {
  await inJobLock(deps, async (tx) => {
    const generation = await tx.generation.findFirst({ where: { id }, select: { id: true, jobId: true } });
    if (!generation) throw new EntityNotFoundError("Generation", id);
    await deleteOwnJob(tx, "Generation", id, generation.jobId);
    await tx.generation.delete({ where: { id } });
  });
  return { deletedId: id, freedBytes: 0n };
}

/** Deletes a finished evaluation with its Pareto points, job and job events, then its stored report and plot. */
export async function deleteEvaluation(deps: TenantServiceDeps, id: string): Promise<DeletionOutcome> {
  const jobId = await inJobLock(deps, async (tx) => {
    const evaluation = await tx.evaluation.findFirst({ where: { id }, select: { id: true, jobId: true } });
    if (!evaluation) throw new EntityNotFoundError("Evaluation", id);
    await deleteOwnJob(tx, "Evaluation", id, evaluation.jobId);
    await tx.evaluation.delete({ where: { id } });
    return evaluation.jobId;
  });
  await purgeEvaluationArtifacts(purgeDeps(deps), deps.tenantId, jobId);
  return { deletedId: id, freedBytes: 0n };
}
