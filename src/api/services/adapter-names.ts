/** @module api/services/adapter-names
 *  Adapter names are unique per tenant (a unique index on (tenant_id, name)). A name is taken by an adapter, and
 *  also by a QUEUED or RUNNING TRAIN job that will create an adapter of that name when it completes; startTraining
 *  checks both inside its job-creation transaction (under the tenant's job lock, so two concurrent submissions of
 *  one name cannot both pass). A job that completes under a name taken meanwhile gets `<name> (job <8 hex>)`
 *  (job-events.ts). */
import type { TenantTransactionClient } from "../db/index.ts";
import { InputValidationError } from "./errors.ts";
import { ACTIVE_JOB_STATUSES } from "./jobs.ts";

/** Throws InputValidationError on `field` when `name` is taken; `exceptJobId` is the job being created. */
export async function assertAdapterNameFree(tx: TenantTransactionClient, name: string, field: string, exceptJobId: string): Promise<void> {
  if (await tx.adapter.findFirst({ where: { name }, select: { id: true } })) {
    throw new InputValidationError(field, `an adapter named ${JSON.stringify(name)} already exists; choose another name or delete it first`);
  }
  const pending = await tx.job.findFirst({
    where: { kind: "TRAIN", status: { in: [...ACTIVE_JOB_STATUSES] }, id: { not: exceptJobId }, payload: { path: ["adapterName"], equals: name } },
    select: { id: true },
  });
  if (pending) throw new InputValidationError(field, `a queued or running training job (${pending.id}) will create an adapter named ${JSON.stringify(name)}; choose another name`);
}
