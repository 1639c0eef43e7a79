/**
 * @module api/ingest/ingest — the api side of the job bus: event ingestion, dead letters, and the reconciler.
 *
 * - Events: one subscription to the whole EVENTS stream, starting after the highest sequence already in
 *   PostgreSQL (`job_events.seq`), feeds `ingestJobEvent` (idempotent by (jobId, seq)) one event at a time, in
 *   stream order. A transient database failure is retried with backoff (the stream waits); an event of a job this
 *   database does not know is skipped.
 * - Dead letters: a job that exhausted `max_deliver` is copied to JOBS_DLQ by the bus; this module then appends a
 *   `failed` MAX_DELIVERIES_EXCEEDED event to its stream, so ingestion marks it FAILED (a no-op when the runner
 *   already reported the last error as `failed`).
 * - Reconciler (every `reconcileIntervalMs`): republishes QUEUED jobs older than `republishAfterMs` and RUNNING
 *   jobs whose runner's heartbeat is gone (same `Nats-Msg-Id` = job id, so duplicates within the window collapse;
 *   runners ack without running a job whose events already hold its outcome).
 * - Cancellation (every `cancelPollMs`): each RUNNING job with `cancelRequested` gets a request in `bus.cancels`
 *   (KV `job_cancels`); runners watch it and stop the job at its next step.
 * - Runners: `listRunners()` reads the heartbeats in `bus.runners` (KV `runners`; expired ones are gone).
 * - Metrics: each event ingested for the first time (with the job before it and the event's bus time) and each dead
 *   letter is reported to `metrics` (plugins/metrics/job-metrics.ts), when given.
 * Everything goes through the bus port: no NATS connection of its own.
 */
import type { DeadLetter, EventSubscription, JobBus } from "../../bus/index.ts";
import {
  ContractValidationError,
  RUNNER_HEARTBEAT_TTL_MS,
  jobKindFromDbName,
  type JobEnvelope,
  type JobEvent,
} from "../../contracts/index.ts";
import type { Database } from "../db/index.ts";
import type { JobEventObserver } from "../plugins/metrics/index.ts";
import type { ApiPubSub } from "../pubsub/index.ts";
import type { Logger } from "../server/logger.ts";
import { EntityNotFoundError } from "../services/errors.ts";
import { ingestJobEvent, type IngestResult } from "../services/job-events.ts";
import type { JobRow } from "../services/rows.ts";
import { readRunnerHeartbeats, type RunnerInfo } from "./runner-registry.ts";

export interface IngestDeps {
  readonly db: Pick<Database, "system">;
  readonly bus: JobBus;
  readonly pubSub: ApiPubSub;
  readonly log: Logger;
  /** Default 15 000 ms. */
  readonly reconcileIntervalMs?: number;
  /** QUEUED jobs older than this are republished (default 60 000 ms). */
  readonly republishAfterMs?: number;
  /** Default 1000 ms. */
  readonly cancelPollMs?: number;
  /** The runners' heartbeat TTL: a RUNNING job whose runner has no heartbeat and that did not change for this long
   *  is republished (default RUNNER_HEARTBEAT_TTL_MS). */
  readonly heartbeatTtlMs?: number;
  /** Hears of every event ingested for the first time and of every dead letter (`createApiMetrics().jobs`). */
  readonly metrics?: JobEventObserver;
}

export interface Ingest {
  /** Highest EVENTS sequence ingested so far. */
  lastSeq(): number;
  /** One reconciler pass (also run on the timer); returns what it republished and cancelled. */
  reconcileOnce(): Promise<{ republished: string[]; cancelled: string[] }>;
  listRunners(): Promise<RunnerInfo[]>;
  stop(): Promise<void>;
}

const NON_TERMINAL_STATUSES = ["QUEUED", "RUNNING"] as const;

export function envelopeOf(job: JobRow): JobEnvelope {
  return {
    jobId: job.id,
    tenantId: job.tenantId,
    createdAt: job.createdAt.toISOString(),
    kind: jobKindFromDbName(job.kind),
    payload: job.payload,
  } as JobEnvelope;
}

export async function startIngest(deps: IngestDeps): Promise<Ingest> {
  const { db, bus, pubSub, log } = deps;
  let stopped = false;

  // ---- events ----------------------------------------------------------------------------------------------------
  const max = await db.system.jobEvent.aggregate({ _max: { seq: true } });
  let lastSeq = Number(max._max.seq ?? 0n);
  const observe = (result: IngestResult, event: JobEvent, at: Date) => {
    if (!deps.metrics || !result.ingested || !result.jobBefore) return;
    try {
      deps.metrics.observeEvent({ job: result.jobBefore, event, statusAfter: result.status, at });
    } catch (error) {
      log.warn("job metrics could not observe an event", { jobId: result.jobBefore.id, error: error instanceof Error ? error.message : String(error) });
    }
  };
  const ingestOne = async (jobId: string, seq: number, event: JobEvent, at: Date): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        observe(await ingestJobEvent(db, pubSub, jobId, seq, event), event, at);
        return;
      } catch (error) {
        if (error instanceof EntityNotFoundError || error instanceof ContractValidationError) {
          log.debug("skipping an event of an unknown job or with an invalid shape", { jobId, seq, error: String(error) });
          return;
        }
        if (stopped || attempt >= 20) {
          log.error("event ingestion gave up", { jobId, seq, error: error instanceof Error ? error : new Error(String(error)) });
          return;
        }
        log.warn("event ingestion failed; retrying", { jobId, seq, attempt, error: error instanceof Error ? error.message : String(error) });
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt)));
      }
    }
  };
  const subscription: EventSubscription = await bus.subscribeEvents({ afterSeq: lastSeq }, async (delivery) => {
    await ingestOne(delivery.jobId, delivery.seq, delivery.event, delivery.time);
    lastSeq = Math.max(lastSeq, delivery.seq);
  });

  // ---- dead letters ----------------------------------------------------------------------------------------------
  const unregisterDeadLetters = bus.onDeadLetter(async (letter: DeadLetter) => {
    deps.metrics?.observeDeadLetter(letter.envelope);
    await bus.publishEvent(letter.envelope.jobId, {
      type: "failed",
      code: "MAX_DELIVERIES_EXCEEDED",
      reason: `the job was delivered ${letter.deliveries} times without finishing (each runner stopped or failed); a copy is in the dead-letter stream — check the runners' logs, then submit it again`,
      retryable: false,
    });
  });

  // ---- reconciler and cancellation -------------------------------------------------------------------------------
  const announcedCancels = new Set<string>();
  const pushCancels = async (): Promise<string[]> => {
    const jobs = await db.system.job.findMany({ where: { cancelRequested: true, status: "RUNNING" }, select: { id: true } });
    const fresh: string[] = [];
    for (const { id } of jobs) {
      if (announcedCancels.has(id)) continue;
      await bus.cancels.request(id);
      announcedCancels.add(id);
      fresh.push(id);
    }
    return fresh;
  };

  const liveRunnerIds = async (): Promise<Set<string>> => new Set((await bus.runners.list()).map((entry) => entry.runnerId));

  const reconcileOnce = async () => {
    const republished: string[] = [];
    const now = Date.now();
    const live = await liveRunnerIds();
    const jobs = (await db.system.job.findMany({
      where: { status: { in: [...NON_TERMINAL_STATUSES] }, cancelRequested: false },
      orderBy: { createdAt: "asc" },
      take: 500,
    })) as JobRow[];
    for (const job of jobs) {
      const stale =
        job.status === "QUEUED"
          ? now - job.createdAt.getTime() > (deps.republishAfterMs ?? 60_000)
          : job.runnerId !== null && !live.has(job.runnerId) && now - job.updatedAt.getTime() > (deps.heartbeatTtlMs ?? RUNNER_HEARTBEAT_TTL_MS);
      if (!stale) continue;
      try {
        await bus.publishJob(envelopeOf(job));
        republished.push(job.id);
      } catch (error) {
        log.warn("reconciler could not republish a job", { jobId: job.id, error: error instanceof Error ? error.message : String(error) });
      }
    }
    if (republished.length > 0) log.info("reconciler republished jobs", { count: republished.length });
    return { republished, cancelled: await pushCancels() };
  };

  const guard = (what: string, run: () => Promise<unknown>) => () => {
    run().catch((error: unknown) => log.warn(`${what} failed`, { error: error instanceof Error ? error.message : String(error) }));
  };
  const reconcileTimer = setInterval(guard("reconciler", reconcileOnce), deps.reconcileIntervalMs ?? 15_000);
  const cancelTimer = setInterval(guard("cancellation relay", pushCancels), deps.cancelPollMs ?? 1000);
  reconcileTimer.unref();
  cancelTimer.unref();

  return {
    lastSeq: () => lastSeq,
    reconcileOnce,
    async listRunners() {
      return readRunnerHeartbeats(bus.runners, (key, error) => log.warn("ignoring an invalid runner heartbeat", { key, error: String(error) }));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(reconcileTimer);
      clearInterval(cancelTimer);
      unregisterDeadLetters();
      await subscription.stop();
    },
  };
}
