/** @module api/services/artifact-purge
 *
 * Removes the stored files of deleted rows through the artifact ports (deps.ts): dataset snapshots (SnapshotWriter),
 * uploaded model files, trained evaluators, adapters and training checkpoints (ModelFileStore; with NATS all of them
 * live in the `artifacts` object-store bucket, keyed as the runners write them: `adapters/<tenant>/<job>/…`,
 * `evaluators/<tenant>/<job>/…`, `checkpoints/<job>`, evaluation reports and plots `evaluations/<tenant>/<job>/…`;
 * uploads under `models/<tenant>/…`).
 *
 * Contracts:
 * - Called after the row's deletion committed: a file that cannot be deleted is logged and left behind (an orphan),
 *   never a row pointing at a missing file.
 * - A model's file is deleted only when the platform stored it (an upload, `storedBytes` set, or a trained
 *   evaluator under `evaluators/<tenant>/`) and no other model row names the same location. A file registered by
 *   location under the model roots is never deleted; the stores refuse every location outside themselves too.
 * - Without a store (a server without it) there is nothing of that kind to delete.
 */
import type { Logger } from "../server/logger.ts";
import type { ModelFileStore, SnapshotWriter } from "./deps.ts";

export interface PurgeDeps {
  modelFiles?: ModelFileStore;
  snapshots?: SnapshotWriter;
  log: Pick<Logger, "warn">;
}

/** Bucket the runners' artifact keys are announced in (`obj://artifacts/<key>`, as generations.ts builds refs). */
const ARTIFACTS_BUCKET = "artifacts";

async function attempt(deps: PurgeDeps, what: string, run: () => Promise<unknown> | undefined): Promise<void> {
  try {
    await run();
  } catch (error) {
    deps.log.warn("a deleted row's artifact could not be deleted; it is left behind", { artifact: what, error: error instanceof Error ? error.message : String(error) });
  }
}

/** `obj://artifacts/<key>` for a bare key; a location as it is. */
function artifactLocation(keyOrLocation: string): string {
  return keyOrLocation.includes("://") ? keyOrLocation : `obj://${ARTIFACTS_BUCKET}/${keyOrLocation}`;
}

/** True when the platform stored the model's file: an upload, or an evaluator a tenant's job trained. */
export function isPlatformStoredModel(row: { storedBytes: bigint | null; jobId: string | null; location: string }, tenantId: string): boolean {
  if (row.storedBytes !== null) return true;
  return row.jobId !== null && new RegExp(`^obj://[^/]+/evaluators/${tenantId}/`).test(row.location);
}

export async function purgeDatasetSnapshot(deps: PurgeDeps, snapshotKey: string | null): Promise<void> {
  if (snapshotKey === null) return;
  await attempt(deps, snapshotKey, () => deps.snapshots?.deleteSnapshot(artifactLocation(snapshotKey)));
}

/** Deletes a model file at `location`; the caller decided it is platform-stored and unshared. */
export async function purgeModelFile(deps: PurgeDeps, location: string): Promise<void> {
  await attempt(deps, location, () => deps.modelFiles?.deleteModelFile(location));
}

/**
 * Deletes an adapter's files: every object under its job's folder `adapters/<tenant>/<job>/` (a PARM file, or a
 * GenARM manifest with one file per dimension) — else just the object its key names — and the job's checkpoint.
 */
export async function purgeAdapterArtifacts(deps: PurgeDeps, tenantId: string, row: { artifactKey: string | null; jobId: string | null }): Promise<void> {
  const folder = row.jobId ? `adapters/${tenantId}/${row.jobId}/` : null;
  const key = row.artifactKey?.replace(/^obj:\/\/[^/]+\//, "") ?? null;
  if (folder !== null && key?.startsWith(folder)) await attempt(deps, folder, () => deps.modelFiles?.deleteModelFiles(folder));
  else if (row.artifactKey) await attempt(deps, row.artifactKey, () => deps.modelFiles?.deleteModelFile(artifactLocation(row.artifactKey!)));
  if (row.jobId) await purgeCheckpoint(deps, row.jobId);
}

export async function purgeCheckpoint(deps: PurgeDeps, jobId: string): Promise<void> {
  await attempt(deps, `checkpoints/${jobId}`, () => deps.modelFiles?.deleteModelFile(artifactLocation(`checkpoints/${jobId}`)));
}

/** Deletes an evaluation's stored report and plot (`evaluations/<tenant>/<job>/…`). */
export async function purgeEvaluationArtifacts(deps: PurgeDeps, tenantId: string, jobId: string): Promise<void> {
  const folder = `evaluations/${tenantId}/${jobId}/`;
  await attempt(deps, folder, () => deps.modelFiles?.deleteModelFiles(folder));
}

/** Everything a deleted tenant had stored: its uploads, adapters, evaluators, evaluation reports, checkpoints and
 *  dataset snapshots. */
export async function purgeTenantArtifacts(deps: PurgeDeps, tenantId: string, rows: { snapshotKeys: string[]; trainJobIds: string[] }): Promise<void> {
  for (const prefix of [`models/${tenantId}/`, `adapters/${tenantId}/`, `evaluators/${tenantId}/`, `evaluations/${tenantId}/`]) {
    await attempt(deps, prefix, () => deps.modelFiles?.deleteModelFiles(prefix));
  }
  for (const jobId of rows.trainJobIds) await purgeCheckpoint(deps, jobId);
  for (const key of rows.snapshotKeys) await purgeDatasetSnapshot(deps, key);
}
