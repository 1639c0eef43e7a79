/** @module api/services/resource-usage
 *
 * Who still uses a tenant's row — what a delete must refuse while it holds (ResourceInUseError). Every function
 * runs inside the caller's tenant transaction (`db.forTenant(id).$transaction`), so row-level security limits the
 * raw SQL to the tenant's rows, and returns at most `MAX_USERS` users per kind, oldest first.
 *
 * - Active jobs: QUEUED or RUNNING jobs whose payload names the row's uuid anywhere (a dataset, model or adapter
 *   ref of any job kind). Matching the uuid in the payload text is exact: uuids do not occur by chance.
 * - Dimension: datasets mapping a label to it (`dimension_map` values), EVALUATOR models scoring it, adapters
 *   trained on it, active jobs.
 * - Dataset: adapters whose training read it, EVALUATOR models whose TRAIN_EVALUATOR job read it (evaluation
 *   lineage compares those records, evaluator-lineage.ts), active jobs.
 * - Model: adapters on it as ARM backbone, evaluations scoring with it, active jobs.
 * - Adapter: active jobs (generations and evaluations guided by it).
 */
import type { TenantTransactionClient } from "../db/index.ts";
import { ResourceInUseError, type ResourceUser } from "./errors.ts";

/** Most users looked up per kind (ResourceInUse lists at most 50 ids). */
const MAX_USERS = 50;

type Tx = TenantTransactionClient;

async function ids(rows: Promise<{ id: string }[]>, entity: string): Promise<ResourceUser[]> {
  return (await rows).map((row) => ({ entity, id: row.id }));
}

/** QUEUED or RUNNING jobs whose payload names `uuid`. */
export function activeJobsReferencing(tx: Tx, uuid: string): Promise<ResourceUser[]> {
  return ids(
    tx.$queryRaw<{ id: string }[]>`SELECT id::text AS id FROM jobs
      WHERE status IN ('QUEUED', 'RUNNING') AND payload::text LIKE ${`%${uuid}%`}
      ORDER BY created_at LIMIT ${MAX_USERS}`,
    "Job",
  );
}

export async function dimensionUsers(tx: Tx, dimensionId: string): Promise<ResourceUser[]> {
  const datasets = await ids(
    tx.$queryRaw<{ id: string }[]>`SELECT id::text AS id FROM datasets
      WHERE EXISTS (SELECT 1 FROM jsonb_each_text(dimension_map) AS entry WHERE entry.value = ${dimensionId})
      ORDER BY created_at LIMIT ${MAX_USERS}`,
    "Dataset",
  );
  const models = await ids(tx.model.findMany({ where: { dimensionId }, select: { id: true }, orderBy: { createdAt: "asc" }, take: MAX_USERS }), "Model");
  const adapters = await ids(
    tx.adapter.findMany({ where: { dimensionIds: { has: dimensionId } }, select: { id: true }, orderBy: { createdAt: "asc" }, take: MAX_USERS }),
    "Adapter",
  );
  return [...datasets, ...models, ...adapters, ...(await activeJobsReferencing(tx, dimensionId))];
}

export async function datasetUsers(tx: Tx, datasetId: string): Promise<ResourceUser[]> {
  const pattern = `%${datasetId}%`;
  const adapters = await ids(
    tx.$queryRaw<{ id: string }[]>`SELECT id::text AS id FROM adapters WHERE training_config::text LIKE ${pattern}
      ORDER BY created_at LIMIT ${MAX_USERS}`,
    "Adapter",
  );
  const evaluators = await ids(
    tx.$queryRaw<{ id: string }[]>`SELECT m.id::text AS id FROM models AS m JOIN jobs AS j ON j.id = m.job_id
      WHERE j.kind = 'TRAIN_EVALUATOR' AND j.payload::text LIKE ${pattern}
      ORDER BY m.created_at LIMIT ${MAX_USERS}`,
    "Model",
  );
  return [...adapters, ...evaluators, ...(await activeJobsReferencing(tx, datasetId))];
}

export async function modelUsers(tx: Tx, modelId: string): Promise<ResourceUser[]> {
  const adapters = await ids(tx.adapter.findMany({ where: { baseModelId: modelId }, select: { id: true }, orderBy: { createdAt: "asc" }, take: MAX_USERS }), "Adapter");
  const evaluations = await ids(
    tx.evaluation.findMany({ where: { evaluatorIds: { has: modelId } }, select: { id: true }, orderBy: { createdAt: "asc" }, take: MAX_USERS }),
    "Evaluation",
  );
  return [...adapters, ...evaluations, ...(await activeJobsReferencing(tx, modelId))];
}

/** "2 adapters and 1 active job" for a list of users. */
export function describeUsers(users: readonly ResourceUser[]): string {
  const counts = new Map<string, number>();
  for (const user of users) counts.set(user.entity, (counts.get(user.entity) ?? 0) + 1);
  const parts = [...counts].map(([entity, n]) => `${n}${n >= MAX_USERS ? "+" : ""} ${entity === "Job" ? "active job" : entity.toLowerCase()}${n === 1 ? "" : "s"}`);
  return parts.length <= 1 ? parts.join("") : `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}`;
}

/** Throws ResourceInUseError naming `users` unless there are none; `advice` says what to do first. */
export function assertUnused(entity: string, id: string, users: readonly ResourceUser[], advice: string): void {
  if (users.length === 0) return;
  throw new ResourceInUseError(entity, id, users, `used by ${describeUsers(users)}; ${advice}`);
}

/** Serialises with job creation (jobs.ts takes the same per-tenant lock): a job whose row commits before a delete's
 *  checks is seen by them, one that commits after finds the row gone at its runner (a clean *_UNAVAILABLE failure). */
export async function lockTenantJobs(tx: Pick<Tx, "$executeRaw">, tenantId: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`jobs:${tenantId}`}, 0))`;
}
