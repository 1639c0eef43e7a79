/** @module api/services/dimensions
 *  Preference dimensions of the caller's tenant. Names are unique per tenant; β_r must be finite and > 0; a new
 *  dimension takes the next position; deleting one re-packs the positions of the rest to 0..k-1 in the same
 *  transaction. A dimension that a dataset's label map, an adapter, an EVALUATOR model or an active job
 *  references cannot be deleted (ResourceInUseError naming them; resource-usage.ts). Each change is published on
 *  `Topics.dimensions(tenantId)`. */
import { DimensionChangeKind } from "../../schema/dimension/index.ts";
import type { PreferenceDimension } from "../db/index.ts";
import { isUniqueViolation } from "../errors/index.ts";
import { Topics } from "../pubsub/index.ts";
import type { TenantServiceDeps } from "./deps.ts";
import { EntityNotFoundError, InputValidationError, NameTakenError, ResourceInUseError } from "./errors.ts";
import { describeUsers, dimensionUsers } from "./resource-usage.ts";

/** What the dimension mutations publish on `Topics.dimensions(tenantId)`. */
export interface DimensionChangeEvent {
  kind: DimensionChangeKind;
  /** Row uuid. */
  dimensionId: string;
}

export interface CreateDimensionCommand {
  name: string;
  description: string;
  betaR: number;
}

/** The fields to change; null or absent keeps the stored value. */
export interface UpdateDimensionCommand {
  name?: string | null;
  description?: string | null;
  betaR?: number | null;
}

const MAX_POSITION_RETRIES = 3;

/** β_r must be a finite number > 0; returns the problem or null. */
export function betaRProblem(betaR: number): string | null {
  if (typeof betaR !== "number" || !Number.isFinite(betaR)) return "betaR must be a finite number";
  if (betaR <= 0) return `betaR must be > 0, got ${betaR}`;
  return null;
}

function checkBetaR(betaR: number): void {
  const problem = betaRProblem(betaR);
  if (problem) throw new InputValidationError("input.betaR", problem);
}

/** Serialises position-changing transactions of one tenant (transaction-scoped advisory lock). */
async function lockDimensions(tx: { $executeRaw: TenantServiceDeps["db"]["$executeRaw"] }, tenantId: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`parm:dimensions:${tenantId}`}))`;
}

async function publish(deps: TenantServiceDeps, kind: DimensionChangeKind, dimensionId: string): Promise<void> {
  const event: DimensionChangeEvent = { kind, dimensionId };
  await deps.pubSub?.publish(Topics.dimensions(deps.tenantId), event);
}

/** The tenant's dimensions in α order (by position). */
export function listDimensions(deps: Pick<TenantServiceDeps, "db">): Promise<PreferenceDimension[]> {
  return deps.db.preferenceDimension.findMany({ orderBy: { position: "asc" } });
}

/** Appends a dimension at the next position. A unique violation (a concurrent create took the name or the
 *  position) is re-checked: the name → NameTakenError, the position → retried up to MAX_POSITION_RETRIES times. */
export async function createDimension(deps: TenantServiceDeps, command: CreateDimensionCommand): Promise<PreferenceDimension> {
  checkBetaR(command.betaR);
  const taken = () => new NameTakenError("dimension", "input.name", command.name);
  for (let attempt = 0; ; attempt++) {
    try {
      const created = await deps.db.$transaction(async (tx) => {
        await lockDimensions(tx, deps.tenantId);
        if (await tx.preferenceDimension.findFirst({ where: { name: command.name }, select: { id: true } })) return null;
        const position = await tx.preferenceDimension.count();
        return tx.preferenceDimension.create({
          data: { tenantId: deps.tenantId, name: command.name, description: command.description, betaR: command.betaR, position },
        });
      });
      if (!created) throw taken();
      await publish(deps, DimensionChangeKind.CREATED, created.id);
      return created;
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      if (await deps.db.preferenceDimension.findFirst({ where: { name: command.name }, select: { id: true } })) throw taken();
      if (attempt + 1 >= MAX_POSITION_RETRIES) throw error;
    }
  }
}

/** Renames a dimension or changes its description / β_r. */
export async function updateDimension(deps: TenantServiceDeps, id: string, command: UpdateDimensionCommand): Promise<PreferenceDimension> {
  if (command.betaR != null) checkBetaR(command.betaR);
  const existing = await deps.db.preferenceDimension.findFirst({ where: { id } });
  if (!existing) throw new EntityNotFoundError("PreferenceDimension", id);
  const taken = () => new NameTakenError("dimension", "input.name", command.name ?? "");
  if (command.name != null && command.name !== existing.name) {
    if (await deps.db.preferenceDimension.findFirst({ where: { name: command.name }, select: { id: true } })) throw taken();
  }
  try {
    const updated = await deps.db.preferenceDimension.update({
      where: { id: existing.id },
      data: {
        ...(command.name != null ? { name: command.name } : {}),
        ...(command.description != null ? { description: command.description } : {}),
        ...(command.betaR != null ? { betaR: command.betaR } : {}),
      },
    });
    await publish(deps, DimensionChangeKind.UPDATED, updated.id);
    return updated;
  } catch (error) {
    if (isUniqueViolation(error)) throw taken();
    throw error;
  }
}

/** Deletes an unused dimension and re-packs the positions of the others; returns the remaining dimensions. */
export async function deleteDimension(deps: TenantServiceDeps, id: string): Promise<PreferenceDimension[]> {
  const remaining = await deps.db.$transaction(async (tx) => {
    await lockDimensions(tx, deps.tenantId);
    const existing = await tx.preferenceDimension.findFirst({ where: { id } });
    if (!existing) throw new EntityNotFoundError("PreferenceDimension", id);
    const users = await dimensionUsers(tx, existing.id);
    if (users.length > 0) {
      const detail = `used by ${describeUsers(users)} and cannot be deleted; delete those first (and cancel those jobs)`;
      throw new ResourceInUseError("PreferenceDimension", existing.id, users, detail);
    }
    await tx.preferenceDimension.delete({ where: { id: existing.id } });
    // Shift later dimensions down one at a time, lowest first, so (tenant, position) stays unique throughout.
    const later = await tx.preferenceDimension.findMany({
      where: { position: { gt: existing.position } },
      orderBy: { position: "asc" },
      select: { id: true, position: true },
    });
    for (const d of later) {
      await tx.preferenceDimension.update({ where: { id: d.id }, data: { position: d.position - 1 } });
    }
    return tx.preferenceDimension.findMany({ orderBy: { position: "asc" } });
  });
  await publish(deps, DimensionChangeKind.DELETED, id);
  return remaining;
}
