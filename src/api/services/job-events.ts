/** @module api/services/job-events
 *
 * Ingestion of runner events (contracts/events) into PostgreSQL and the GraphQL pub/sub, and the messages the
 * `job:`, `generation:` and `evaluation:` topics carry.
 *
 * `ingestJobEvent(db, pubSub, jobId, seq, event)`:
 * - idempotent by (jobId, seq): the JobEvent row is inserted with ON CONFLICT DO NOTHING; a duplicate changes
 *   nothing and publishes nothing. The row and every side effect commit in ONE transaction.
 * - side effects, applied only while the job is not terminal (a late event never revives a finished job):
 *   started → RUNNING (attempts, runner, startedAt); progress → progress + detail; point → ParetoPoint upsert;
 *   completed → SUCCEEDED plus the kind's result (Generation outputs; Evaluation HV / MIP / reference point /
 *   front; a TRAIN job's Adapter row; a TRAIN_EVALUATOR job's EVALUATOR Model row); failed → FAILED (CANCELLED
 *   when the code is CANCELLED) with the reason (`failureMessage`: a job cancelled after it started says how long
 *   it ran).
 * - after commit it publishes: every event on `job:<jobId>`; tokens on `generation:<id>`; points on
 *   `evaluation:<id>`; and an `end` message on all three once the job is terminal.
 * `ingestTokenEvents(db, pubSub, items)` does the same for a run of token events in one transaction.
 * It uses the system client (events arrive from runners, not from a tenant request).
 */
import { parseJobEvent, UnreachableCaseError, type JobEvent, type JobStatus, type TrainEvaluatorPayload, type TrainJobPayload } from "../../contracts/index.ts";
import type { EventSubscription, JobBus } from "../../bus/index.ts";
import { jsonInput, type Database, type JobEvent as JobEventModel, type ParetoPoint, type Prisma } from "../db/index.ts";
import { Topics, type ApiPubSub } from "../pubsub/index.ts";
import type { Logger } from "../server/logger.ts";
import { EntityNotFoundError } from "./errors.ts";
import type { JobRow } from "./rows.ts";

export type JobEventRow = JobEventModel;

export type ParetoPointRow = ParetoPoint;

/** One streamed token (uuids, not global ids). */
export interface GenerationTokenMessage {
  generationId: string;
  seq: bigint;
  outputIndex: number;
  position: number;
  tokenId: number;
  text: string;
}

export type JobTopicMessage = { kind: "event"; event: JobEventRow } | { kind: "end"; status: JobStatus };
export type GenerationTopicMessage = { kind: "token"; token: GenerationTokenMessage } | { kind: "end"; status: JobStatus };
export type EvaluationTopicMessage = { kind: "point"; point: ParetoPointRow } | { kind: "end"; status: JobStatus };

export interface IngestResult {
  /** False when (jobId, seq) was already ingested: nothing changed, nothing was published. */
  ingested: boolean;
  event: JobEventRow | null;
  /** The job's status after ingestion. */
  status: JobStatus;
  /** The job as it was before this event (null when nothing was ingested). */
  jobBefore: JobRow | null;
}

const TERMINAL: readonly JobStatus[] = ["SUCCEEDED", "FAILED", "CANCELLED"];

type SystemTx = Prisma.TransactionClient;

/** Ingests one runner event; see the module comment. Throws ContractValidationError for a malformed event. */
export async function ingestJobEvent(
  db: Pick<Database, "system">,
  pubSub: ApiPubSub,
  jobId: string,
  seq: number | bigint,
  rawEvent: unknown,
): Promise<IngestResult> {
  const event = parseJobEvent(rawEvent);
  const sequence = BigInt(seq);
  const outcome = await db.system.$transaction(async (tx) => {
    const job = (await tx.job.findUnique({ where: { id: jobId } })) as JobRow | null;
    if (!job) throw new EntityNotFoundError("Job", jobId);
    const inserted = await tx.jobEvent.createManyAndReturn({
      data: [{ tenantId: job.tenantId, jobId, seq: sequence, type: event.type, payload: jsonInput(event) }],
      skipDuplicates: true,
    });
    if (inserted.length === 0) return { ingested: false as const, job, status: job.status };
    const row = inserted[0] as JobEventRow;
    const effects = await applyEvent(tx, job, event);
    await tx.job.updateMany({ where: { id: jobId, lastEventSeq: { lt: sequence } }, data: { lastEventSeq: sequence } });
    return { ingested: true as const, job, row, ...effects };
  });
  if (!outcome.ingested) return { ingested: false, event: null, status: outcome.status, jobBefore: null };

  const { row, status, generationId, evaluationId, point } = outcome;
  await pubSub.publish(Topics.job(jobId), { kind: "event", event: row } satisfies JobTopicMessage);
  if (generationId && event.type === "token") {
    const token: GenerationTokenMessage = {
      generationId,
      seq: row.seq,
      outputIndex: event.outputIndex,
      position: event.position,
      tokenId: event.tokenId,
      text: event.text,
    };
    await pubSub.publish(Topics.generation(generationId), { kind: "token", token } satisfies GenerationTopicMessage);
  }
  if (evaluationId && point) {
    await pubSub.publish(Topics.evaluation(evaluationId), { kind: "point", point } satisfies EvaluationTopicMessage);
  }
  if (outcome.becameTerminal) await publishEnd(pubSub, jobId, status, generationId, evaluationId);
  return { ingested: true, event: row, status, jobBefore: outcome.job };
}

/** One event of a batch given to `ingestTokenEvents`. */
export interface TokenEventItem {
  readonly jobId: string;
  readonly seq: number | bigint;
  readonly event: Extract<JobEvent, { type: "token" }>;
}

/**
 * Ingests a run of `token` events (of one or more jobs, in stream order) in ONE transaction: the rows inserted with ON
 * CONFLICT DO NOTHING and each job's `lastEventSeq` moved, then — after commit, in the given order — each new row
 * published on `job:<jobId>` and `generation:<id>` (unless `publishGenerationTokens` is false: the caller published
 * them ahead of the commit, api/ingest/live-tokens.ts), as `ingestJobEvent` would one by one (a token has no other
 * side effect). Events of jobs this database does not know are skipped. Returns one result per item.
 */
export async function ingestTokenEvents(
  db: Pick<Database, "system">,
  pubSub: ApiPubSub,
  items: readonly TokenEventItem[],
  options: { publishGenerationTokens?: boolean } = {},
): Promise<IngestResult[]> {
  const jobIds = [...new Set(items.map((item) => item.jobId))];
  const outcome = await db.system.$transaction(async (tx) => {
    const jobs = new Map(((await tx.job.findMany({ where: { id: { in: jobIds } } })) as JobRow[]).map((job) => [job.id, job]));
    const generations = await tx.generation.findMany({ where: { jobId: { in: jobIds } }, select: { id: true, jobId: true } });
    const known = items.filter((item) => jobs.has(item.jobId));
    const inserted = (await tx.jobEvent.createManyAndReturn({
      data: known.map((item) => ({
        tenantId: jobs.get(item.jobId)!.tenantId,
        jobId: item.jobId,
        seq: BigInt(item.seq),
        type: item.event.type,
        payload: jsonInput(item.event),
      })),
      skipDuplicates: true,
    })) as JobEventRow[];
    const highest = new Map<string, bigint>();
    for (const row of inserted) if (row.seq > (highest.get(row.jobId) ?? -1n)) highest.set(row.jobId, row.seq);
    for (const [jobId, seq] of highest) await tx.job.updateMany({ where: { id: jobId, lastEventSeq: { lt: seq } }, data: { lastEventSeq: seq } });
    return { jobs, generationOf: new Map(generations.map((g) => [g.jobId, g.id])), inserted };
  });
  const rows = new Map(outcome.inserted.map((row) => [`${row.jobId}:${row.seq}`, row]));
  const results: IngestResult[] = [];
  for (const item of items) {
    const job = outcome.jobs.get(item.jobId);
    const row = rows.get(`${item.jobId}:${BigInt(item.seq)}`);
    if (!job || !row) {
      results.push({ ingested: false, event: null, status: job?.status ?? "QUEUED", jobBefore: null });
      continue;
    }
    await pubSub.publish(Topics.job(item.jobId), { kind: "event", event: row } satisfies JobTopicMessage);
    const generationId = outcome.generationOf.get(item.jobId);
    if (generationId && options.publishGenerationTokens !== false) {
      const { outputIndex, position, tokenId, text } = item.event;
      const token: GenerationTokenMessage = { generationId, seq: row.seq, outputIndex, position, tokenId, text };
      await pubSub.publish(Topics.generation(generationId), { kind: "token", token } satisfies GenerationTopicMessage);
    }
    results.push({ ingested: true, event: row, status: job.status, jobBefore: job });
  }
  return results;
}

/** Publishes the `end` message of a job that reached a terminal status (also used by cancelJob). */
export async function publishEnd(
  pubSub: ApiPubSub,
  jobId: string,
  status: JobStatus,
  generationId: string | null,
  evaluationId: string | null,
): Promise<void> {
  await pubSub.publish(Topics.job(jobId), { kind: "end", status } satisfies JobTopicMessage);
  if (generationId) await pubSub.publish(Topics.generation(generationId), { kind: "end", status } satisfies GenerationTopicMessage);
  if (evaluationId) await pubSub.publish(Topics.evaluation(evaluationId), { kind: "end", status } satisfies EvaluationTopicMessage);
}

interface Effects {
  status: JobStatus;
  becameTerminal: boolean;
  generationId: string | null;
  evaluationId: string | null;
  point: ParetoPointRow | null;
}

async function applyEvent(tx: SystemTx, job: JobRow, event: JobEvent): Promise<Effects> {
  const generation = job.kind === "GENERATE" ? await tx.generation.findUnique({ where: { jobId: job.id }, select: { id: true } }) : null;
  const evaluation = job.kind === "EVALUATE" ? await tx.evaluation.findUnique({ where: { jobId: job.id }, select: { id: true } }) : null;
  const effects: Effects = {
    status: job.status,
    becameTerminal: false,
    generationId: generation?.id ?? null,
    evaluationId: evaluation?.id ?? null,
    point: null,
  };
  const terminal = TERMINAL.includes(job.status);
  const setStatus = async (status: JobStatus, data: Prisma.JobUpdateInput) => {
    await tx.job.update({ where: { id: job.id }, data: { ...data, status } });
    if (effects.generationId) await tx.generation.update({ where: { id: effects.generationId }, data: { status } });
    if (effects.evaluationId) await tx.evaluation.update({ where: { id: effects.evaluationId }, data: { status } });
    effects.status = status;
    effects.becameTerminal = TERMINAL.includes(status);
  };
  switch (event.type) {
    case "started":
      if (!terminal) {
        await setStatus("RUNNING", { attempts: event.attempt, runnerId: event.runnerId, startedAt: job.startedAt ?? new Date() });
      }
      break;
    case "progress":
      if (!terminal) {
        await tx.job.update({
          where: { id: job.id },
          data: { progress: event.percent, progressDetail: jsonInput(event) },
        });
      }
      break;
    case "token":
    case "artifact":
      break;
    case "point":
      if (effects.evaluationId) {
        effects.point = (await tx.paretoPoint.upsert({
          where: { evaluationId_index: { evaluationId: effects.evaluationId, index: event.index } },
          create: { tenantId: job.tenantId, evaluationId: effects.evaluationId, index: event.index, alpha: event.alpha, rewards: event.rewards },
          update: { alpha: event.alpha, rewards: event.rewards },
        })) as ParetoPointRow;
      }
      break;
    case "completed":
      if (!terminal) {
        await setStatus("SUCCEEDED", { progress: 100, finishedAt: new Date() });
        await recordResult(tx, job, event, effects);
      }
      break;
    case "failed":
      if (!terminal) {
        const finishedAt = new Date();
        await setStatus(event.code === "CANCELLED" ? "CANCELLED" : "FAILED", { error: failureMessage(job, event, finishedAt), finishedAt });
      }
      break;
    default:
      throw new UnreachableCaseError(event);
  }
  return effects;
}

/**
 * `job.error` for a `failed` event: `<code>: <reason>`, except that a job cancelled after it had started says so
 * with the time since it first started (`CANCELLED: cancelled while running, after 90 s`), whatever text the
 * runner sent: `startedAt` is the truth, also for a job whose attempt was interrupted and then cancelled.
 */
export function failureMessage(job: Pick<JobRow, "startedAt">, event: Extract<JobEvent, { type: "failed" }>, at: Date): string {
  if (event.code !== "CANCELLED" || job.startedAt === null) return `${event.code}: ${event.reason}`;
  const seconds = Math.max(0, Math.round((at.getTime() - job.startedAt.getTime()) / 1000));
  return `CANCELLED: cancelled while running, after ${seconds} s`;
}

/** sha256 announced by the job's latest artifact event of `kind` with object key `key`. */
async function artifactDigest(tx: SystemTx, jobId: string, key: string | undefined): Promise<string | null> {
  if (!key) return null;
  const events = await tx.jobEvent.findMany({ where: { jobId, type: "artifact" }, orderBy: { seq: "desc" } });
  for (const e of events) {
    const payload = e.payload as { key?: string; sha256?: string };
    if (payload.key === key && typeof payload.sha256 === "string") return payload.sha256;
  }
  return null;
}

async function recordResult(tx: SystemTx, job: JobRow, event: Extract<JobEvent, { type: "completed" }>, effects: Effects): Promise<void> {
  switch (job.kind) {
    case "GENERATE":
      if (effects.generationId && event.outputs) {
        await tx.generation.update({ where: { id: effects.generationId }, data: { outputs: jsonInput(event.outputs) } });
      }
      return;
    case "EVALUATE":
      if (effects.evaluationId && event.evaluation) {
        await tx.evaluation.update({
          where: { id: effects.evaluationId },
          data: {
            hypervolume: event.evaluation.hypervolume,
            mip: event.evaluation.mip,
            referencePoint: event.evaluation.referencePoint,
            report: jsonInput({ ...event.evaluation, metrics: event.metrics, durationSeconds: event.durationSeconds }),
          },
        });
        await tx.paretoPoint.updateMany({ where: { evaluationId: effects.evaluationId }, data: { onFront: false } });
        await tx.paretoPoint.updateMany({
          where: { evaluationId: effects.evaluationId, index: { in: event.evaluation.frontIndices } },
          data: { onFront: true },
        });
      }
      return;
    case "TRAIN": {
      const payload = job.payload as TrainJobPayload;
      // Names are unique per tenant; startTraining refused a taken one, so a clash means it was taken meanwhile.
      const taken = await tx.adapter.findFirst({ where: { tenantId: job.tenantId, name: payload.adapterName }, select: { id: true } });
      await tx.adapter.create({
        data: {
          tenantId: job.tenantId,
          name: taken ? `${payload.adapterName} (job ${job.id.slice(0, 8)})` : payload.adapterName,
          method: payload.method,
          baseModelId: payload.baseModel.id,
          dimensionIds: payload.dimensions.map((d) => d.id),
          dimensionNames: payload.dimensions.map((d) => d.name),
          r1: payload.r1,
          r2: payload.r2,
          loraAlpha: payload.loraAlpha,
          targets: payload.targets,
          trainingConfig: jsonInput(payload),
          metrics: event.metrics,
          artifactKey: event.artifactKey ?? null,
          artifactDigest: await artifactDigest(tx, job.id, event.artifactKey),
          jobId: job.id,
        },
      });
      return;
    }
    case "TRAIN_EVALUATOR": {
      const payload = job.payload as TrainEvaluatorPayload;
      const base = await tx.model.findUnique({ where: { id: payload.baseModel.id } });
      const taken = await tx.model.findFirst({ where: { tenantId: job.tenantId, name: payload.evaluatorName }, select: { id: true } });
      await tx.model.create({
        data: {
          tenantId: job.tenantId,
          name: taken ? `${payload.evaluatorName} (job ${job.id.slice(0, 8)})` : payload.evaluatorName,
          kind: "EVALUATOR",
          format: payload.baseModel.format,
          location: event.artifactKey ? `obj://artifacts/${event.artifactKey}` : payload.baseModel.location,
          sha256: await artifactDigest(tx, job.id, event.artifactKey),
          vocabSize: base?.vocabSize ?? null,
          tokenizerHash: base?.tokenizerHash ?? null,
          config: {
            labelName: payload.labelName,
            // Payloads queued before these fields existed lack them: such evaluators read the last token; their splits are unrecorded.
            pooling: (payload as Partial<TrainEvaluatorPayload>).pooling ?? "last",
            trainSplit: (payload as Partial<TrainEvaluatorPayload>).trainSplit ?? null,
            heldOutSplit: (payload as Partial<TrainEvaluatorPayload>).heldOutSplit ?? null,
            metrics: event.metrics,
          } as Prisma.InputJsonObject,
          dimensionId: payload.dimension.id,
          jobId: job.id,
        },
      });
      return;
    }
    default:
      throw new UnreachableCaseError(job.kind);
  }
}

/** What `startJobEventIngest` needs: the database, the bus's event subscription, the GraphQL pub/sub, a logger. */
export interface JobEventIngestDeps {
  db: Pick<Database, "system">;
  bus: Pick<JobBus, "subscribeEvents">;
  pubSub: ApiPubSub;
  log: Pick<Logger, "warn">;
}

/**
 * Feeds every job event from the bus into `ingestJobEvent`, resuming after the highest sequence already ingested
 * (`max(jobs.last_event_seq)`; stream sequences grow across all jobs). Events of unknown jobs and malformed events
 * are logged and skipped. Returns the subscription; `stop()` ends it.
 */
export async function startJobEventIngest(deps: JobEventIngestDeps): Promise<EventSubscription> {
  const resume = await deps.db.system.job.aggregate({ _max: { lastEventSeq: true } });
  const afterSeq = Number(resume._max.lastEventSeq ?? 0n);
  return deps.bus.subscribeEvents({ afterSeq }, async (delivery) => {
    try {
      await ingestJobEvent(deps.db, deps.pubSub, delivery.jobId, delivery.seq, delivery.event);
    } catch (error) {
      deps.log.warn("job event not ingested", {
        jobId: delivery.jobId,
        seq: delivery.seq,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  });
}
