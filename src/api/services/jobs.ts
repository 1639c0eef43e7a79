/** @module api/services/jobs
 *
 * Job lifecycle on the api side: creation (row QUEUED + publish), cancellation, and the concurrent-job quota.
 *
 * Creation contract:
 * 1. The payload is validated against the contract schema (`parseJobPayload`); a violation is an
 *    InputValidationError naming the payload field.
 * 2. In ONE transaction, under a per-tenant advisory lock: refuse a suspended tenant (FORBIDDEN; its keys are refused
 *    anyway, this holds for a suspension that lands mid-request), count the tenant's QUEUED + RUNNING jobs against
 *    `Tenant.maxConcurrentJobs` (TenantQuotaError when full), insert the job row (QUEUED) and the rows that
 *    belong to it (Generation, Evaluation) via `attach`.
 * 3. After commit, publish the JobEnvelope (`Nats-Msg-Id` = job id, set by the bus). If publishing fails the job
 *    stays QUEUED and is not rolled back: PostgreSQL is the truth, and the reconciler republishes QUEUED jobs
 *    absent from the stream (same message id, so duplicates collapse). The failure is logged.
 */
import {
  JOB_KIND_DB_NAMES,
  TERMINAL_JOB_STATUSES,
  ContractValidationError,
  parseJobPayload,
  type JobEnvelope,
  type JobKind,
  type JobPayloadByKind,
  type JobStatus,
} from "../../contracts/index.ts";
import { jsonInput, type TenantTransactionClient } from "../db/index.ts";
import type { TenantServiceDeps } from "./deps.ts";
import type { JobRow } from "./rows.ts";

export type { JobRow } from "./rows.ts";
import { EntityNotFoundError, InputValidationError, JobNotCancellableError, TenantQuotaError } from "./errors.ts";
import { publishEnd } from "./job-events.ts";
import { ForbiddenError } from "../errors/index.ts";


export const ACTIVE_JOB_STATUSES: readonly JobStatus[] = ["QUEUED", "RUNNING"];

/** Seconds suggested to a client whose concurrent-job quota is full. */
const QUOTA_RETRY_AFTER_SECONDS = 30;

/** Validates a payload; contract violations become InputValidationError on `payload.<path>`. */
export function validatePayload<K extends JobKind>(kind: K, payload: unknown): JobPayloadByKind[K] {
  try {
    return parseJobPayload(kind, payload);
  } catch (error) {
    if (error instanceof ContractValidationError) {
      const first = error.issues[0];
      throw new InputValidationError(first?.path ? `payload.${first.path}` : "payload", first?.message ?? error.message);
    }
    throw error;
  }
}

export interface EnqueuedJob<T> {
  job: JobRow;
  attached: T;
  /** False when publishing failed; the job stays QUEUED for the reconciler. */
  published: boolean;
}

/**
 * Creates a QUEUED job and publishes it (see the module comment). `attach` runs in the same transaction after the
 * job row exists (e.g. to insert the Generation row).
 */
export async function enqueueJob<K extends JobKind, T = undefined>(
  deps: TenantServiceDeps,
  kind: K,
  payload: JobPayloadByKind[K],
  attach?: (tx: TenantTransactionClient, job: JobRow) => Promise<T>,
): Promise<EnqueuedJob<T>> {
  const validated = validatePayload(kind, payload);
  const { job, attached } = await deps.db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`jobs:${deps.tenantId}`}, 0))`;
    const tenant = await tx.tenant.findFirst({ where: { id: deps.tenantId }, select: { maxConcurrentJobs: true, suspendedAt: true } });
    if (!tenant) throw new EntityNotFoundError("Tenant", deps.tenantId);
    if (tenant.suspendedAt) throw new ForbiddenError("the tenant is suspended by the platform admin and starts no jobs");
    const active = await tx.job.count({ where: { status: { in: [...ACTIVE_JOB_STATUSES] } } });
    if (active >= tenant.maxConcurrentJobs) {
      throw new TenantQuotaError("CONCURRENT_JOBS", tenant.maxConcurrentJobs, active, 1, QUOTA_RETRY_AFTER_SECONDS);
    }
    const job = (await tx.job.create({
      data: {
        tenantId: deps.tenantId,
        kind: JOB_KIND_DB_NAMES[kind],
        status: "QUEUED",
        payload: jsonInput(validated),
      },
    })) as JobRow;
    const attached = attach ? await attach(tx, job) : (undefined as T);
    return { job, attached };
  });
  const envelope = { jobId: job.id, tenantId: deps.tenantId, createdAt: job.createdAt.toISOString(), kind, payload: validated } as JobEnvelope;
  let published = true;
  try {
    await deps.bus.publishJob(envelope);
  } catch (error) {
    published = false;
    deps.log.warn("job publish failed; the job stays QUEUED for the reconciler", {
      jobId: job.id,
      kind,
      error: error instanceof Error ? error.message : String(error),
    });
  }
  return { job, attached, published };
}

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_JOB_STATUSES.includes(status);
}

/**
 * Cancels a job. QUEUED → CANCELLED at once (a runner that later receives the message sees the job cancelled via
 * `cancelRequested` and acknowledges it without running); RUNNING → `cancelRequested` and a request on the bus's
 * `cancels` at once (the runner stops at its next step and reports `failed` with code CANCELLED; ingestion's relay
 * repeats the request for jobs whose request did not go out). Terminal jobs → JobNotCancellableError.
 */
export async function cancelJob(deps: TenantServiceDeps, jobId: string): Promise<JobRow> {
  const job = await deps.db.$transaction(async (tx) => {
    const rows = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM jobs WHERE id = ${jobId}::uuid FOR UPDATE`;
    const job = rows.length > 0 ? ((await tx.job.findFirst({ where: { id: jobId } })) as JobRow | null) : null;
    if (!job) throw new EntityNotFoundError("Job", jobId);
    if (isTerminal(job.status)) throw new JobNotCancellableError(job.id, job.status);
    if (job.status === "QUEUED") {
      const now = new Date();
      const updated = (await tx.job.update({
        where: { id: jobId },
        data: { status: "CANCELLED", cancelRequested: true, finishedAt: now, error: "cancelled before a runner started it" },
      })) as JobRow;
      await tx.generation.updateMany({ where: { jobId }, data: { status: "CANCELLED" } });
      await tx.evaluation.updateMany({ where: { jobId }, data: { status: "CANCELLED" } });
      return updated;
    }
    return (await tx.job.update({ where: { id: jobId }, data: { cancelRequested: true } })) as JobRow;
  });
  if (job.status === "RUNNING") {
    await deps.bus.cancels?.request(jobId).catch((error: unknown) =>
      deps.log.warn("could not pass a job cancellation to its runner now; the relay retries", { jobId, error: error instanceof Error ? error.message : String(error) }),
    );
  }
  if (job.status === "CANCELLED") {
    const generation = await deps.db.generation.findFirst({ where: { jobId }, select: { id: true } });
    const evaluation = await deps.db.evaluation.findFirst({ where: { jobId }, select: { id: true } });
    if (deps.pubSub) await publishEnd(deps.pubSub, jobId, "CANCELLED", generation?.id ?? null, evaluation?.id ?? null);
    try {
      await deps.bus.publishEvent?.(jobId, {
        type: "failed",
        code: "CANCELLED",
        reason: "cancelled by the tenant before a runner started it",
        retryable: false,
      });
    } catch (error) {
      deps.log.warn("could not announce a job cancellation on the events stream", {
        jobId,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return job;
}
