/** @module api/services/tenant-lifecycle
 *
 * The platform admin's tenant suspension and deletion (system client; resolvers/tenant.ts checks the admin).
 *
 * Contracts:
 * - suspendTenant(true) sets `suspendedAt` under the tenant's job lock (the one job creation takes, so no job is
 *   created after it), then cancels every QUEUED job at once and asks every RUNNING one to stop (cancelJob). From
 *   then on the tenant's API keys are refused on every request (auth/authenticator.ts) and job creation refuses the
 *   tenant (jobs.ts). suspendTenant(false) clears `suspendedAt`; cancelled jobs stay cancelled. Repeating either is
 *   harmless (a repeated suspension keeps the first `suspendedAt`).
 * - deleteTenant is refused (ResourceInUseError naming the jobs) while the tenant has QUEUED or RUNNING jobs:
 *   runners could still write artifacts for it. Otherwise ONE transaction deletes the tenant row, and every row it
 *   owns cascades with it (keys, dimensions, datasets and records, models, adapters, jobs and events, generations,
 *   evaluations and points); after commit its stored files are purged (artifact-purge.ts), never a file registered
 *   by location under the model roots.
 */
import type { Database } from "../db/index.ts";
import type { ApiPubSub } from "../pubsub/index.ts";
import type { Logger } from "../server/logger.ts";
import { purgeTenantArtifacts } from "./artifact-purge.ts";
import type { JobPublisher, ModelFileStore, SnapshotWriter, TenantServiceDeps } from "./deps.ts";
import { EntityNotFoundError, JobNotCancellableError } from "./errors.ts";
import { ACTIVE_JOB_STATUSES, cancelJob } from "./jobs.ts";
import { assertUnused, lockTenantJobs } from "./resource-usage.ts";

export interface TenantAdminDeps {
  db: Pick<Database, "system" | "forTenant">;
  bus: JobPublisher;
  log: Logger;
  pubSub?: ApiPubSub;
  modelFiles?: ModelFileStore;
  snapshots?: SnapshotWriter;
}

/** Deleting a tenant cascades through all its rows; allow for a large one. */
const DELETE_TENANT_TIMEOUT_MS = 30 * 60 * 1000;

/** Sets or clears the suspension; a suspension also cancels the tenant's active jobs (their ids are returned). */
export async function suspendTenant(deps: TenantAdminDeps, tenantId: string, suspended: boolean) {
  const tenant = await deps.db.system.$transaction(async (tx) => {
    await lockTenantJobs(tx, tenantId);
    const existing = await tx.tenant.findUnique({ where: { id: tenantId }, select: { suspendedAt: true } });
    if (!existing) throw new EntityNotFoundError("Tenant", tenantId);
    return tx.tenant.update({ where: { id: tenantId }, data: { suspendedAt: suspended ? (existing.suspendedAt ?? new Date()) : null } });
  });
  const cancelledJobIds = suspended ? await cancelActiveJobs(deps, tenantId) : [];
  deps.log.info(suspended ? "tenant suspended" : "tenant resumed", { tenantId, cancelledJobs: cancelledJobIds.length });
  return { tenant, cancelledJobIds };
}

/** cancelJob for each QUEUED or RUNNING job of the tenant; a job that ended meanwhile is skipped. */
async function cancelActiveJobs(deps: TenantAdminDeps, tenantId: string): Promise<string[]> {
  const tenantDeps: TenantServiceDeps = { tenantId, db: deps.db.forTenant(tenantId), bus: deps.bus, log: deps.log, pubSub: deps.pubSub };
  const active = await tenantDeps.db.job.findMany({ where: { status: { in: [...ACTIVE_JOB_STATUSES] } }, select: { id: true }, orderBy: { createdAt: "asc" } });
  const cancelled: string[] = [];
  for (const job of active) {
    try {
      await cancelJob(tenantDeps, job.id);
      cancelled.push(job.id);
    } catch (error) {
      if (!(error instanceof JobNotCancellableError)) throw error;
    }
  }
  return cancelled;
}

/** Deletes the tenant and everything it owns, then purges its stored files (see the module comment). */
export async function deleteTenant(deps: TenantAdminDeps, tenantId: string): Promise<void> {
  const stored = await deps.db.system.$transaction(
    async (tx) => {
      await lockTenantJobs(tx, tenantId);
      if (!(await tx.tenant.findUnique({ where: { id: tenantId }, select: { id: true } }))) throw new EntityNotFoundError("Tenant", tenantId);
      const active = await tx.job.findMany({
        where: { tenantId, status: { in: [...ACTIVE_JOB_STATUSES] } },
        select: { id: true },
        orderBy: { createdAt: "asc" },
        take: 50,
      });
      const users = active.map((job) => ({ entity: "Job", id: job.id }));
      assertUnused("Tenant", tenantId, users, "cancel them (suspendTenant cancels them all) and wait until they end");
      const datasets = await tx.dataset.findMany({ where: { tenantId, snapshotKey: { not: null } }, select: { snapshotKey: true } });
      const trainJobs = await tx.job.findMany({ where: { tenantId, kind: "TRAIN" }, select: { id: true } });
      await tx.tenant.delete({ where: { id: tenantId } });
      return { snapshotKeys: datasets.map((d) => d.snapshotKey!), trainJobIds: trainJobs.map((j) => j.id) };
    },
    { timeout: DELETE_TENANT_TIMEOUT_MS, maxWait: 10_000 },
  );
  await purgeTenantArtifacts({ modelFiles: deps.modelFiles, snapshots: deps.snapshots, log: deps.log }, tenantId, stored);
  deps.log.info("tenant deleted", { tenantId });
}
