/**
 * @module api/ingest/ingest — the api side of the job bus: event ingestion, dead letters, and the reconciler.
 *
 * - Events: one subscription to the whole EVENTS stream, starting after the highest sequence already in
 *   PostgreSQL (`job_events.seq`), feeds `ingestJobEvent` (idempotent by (jobId, seq)) one event at a time, in
 *   stream order — except runs of consecutive `token` events, which `ingestTokenEvents` commits together (up to
 *   TOKEN_BATCH_MAX; the run forms while the previous step holds the database). Tokens go to `generation:<id>`
 *   subscribers as they are received, ahead of the commit (live-tokens.ts). A transient database failure is retried with backoff (the stream waits); an event of a job this
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
import { ingestJobEvent, ingestTokenEvents, type IngestResult } from "../services/job-events.ts";
import type { JobRow } from "../services/rows.ts";
import { createLiveTokens } from "./live-tokens.ts";
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
/** Most token events committed in one transaction. */
const TOKEN_BATCH_MAX = 256;
/** Events received and not yet ingested beyond which the events subscription waits. */
const QUEUE_HIGH_WATER = 1024;

/** An event received from the stream, waiting for ingestion. */
interface QueuedEvent {
  readonly jobId: string;
  readonly seq: number;
  readonly event: JobEvent;
  readonly at: Date;
  /** A token published ahead of its commit (live-tokens.ts). */
  published?: boolean;
}
type QueuedToken = QueuedEvent & { readonly event: Extract<JobEvent, { type: "token" }> };

const isToken = (item: QueuedEvent): item is QueuedToken => item.event.type === "token";

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
  /** Runs one ingestion step, retrying transient database failures with backoff (the stream waits meanwhile). */
  const withRetry = async (where: { jobId: string; seq: number }, step: () => Promise<void>): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await step();
        return;
      } catch (error) {
        if (error instanceof EntityNotFoundError || error instanceof ContractValidationError) {
          log.debug("skipping an event of an unknown job or with an invalid shape", { ...where, error: String(error) });
          return;
        }
        if (stopped || attempt >= 20) {
          log.error("event ingestion gave up", { ...where, error: error instanceof Error ? error : new Error(String(error)) });
          return;
        }
        log.warn("event ingestion failed; retrying", { ...where, attempt, error: error instanceof Error ? error.message : String(error) });
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt)));
      }
    }
  };
  const ingestOne = (item: QueuedEvent) =>
    withRetry(item, async () => observe(await ingestJobEvent(db, pubSub, item.jobId, item.seq, item.event), item.event, item.at));
  const live = createLiveTokens(db, pubSub);
  const ingestTokens = async (items: QueuedToken[]) => {
    try {
      await withRetry(items[0]!, async () => {
        await live.publishRest(items);
        const results = await ingestTokenEvents(db, pubSub, items, { publishGenerationTokens: false });
        results.forEach((result, i) => observe(result, items[i]!.event, items[i]!.at));
      });
    } finally {
      live.settle(items);
    }
  };

  // Events wait in `queue` (stream order) while the database is busy, so a run of token events (a generation streams
  // one event per token) commits as one transaction; past QUEUE_HIGH_WATER the subscription waits.
  const queue: QueuedEvent[] = [];
  const roomWaiters: (() => void)[] = [];
  let draining: Promise<void> | null = null;
  const takeTokenRun = (): QueuedToken[] => {
    let n = 0;
    while (n < queue.length && n < TOKEN_BATCH_MAX && isToken(queue[n]!)) n++;
    return queue.splice(0, n) as QueuedToken[];
  };
  const drain = async () => {
    while (queue.length > 0) {
      const tokens = takeTokenRun();
      if (tokens.length > 0) {
        await ingestTokens(tokens);
        lastSeq = Math.max(lastSeq, tokens[tokens.length - 1]!.seq);
      } else {
        const item = queue.shift()!;
        await ingestOne(item);
        await live.jobEvent(item.jobId, item.event.type).catch(() => undefined); // a miss only delays its tokens
        lastSeq = Math.max(lastSeq, item.seq);
      }
      if (queue.length < QUEUE_HIGH_WATER) for (const wake of roomWaiters.splice(0)) wake();
    }
  };
  const kick = () => {
    draining ??= drain().finally(() => {
      draining = null;
      if (queue.length > 0) kick();
    });
  };
  const subscription: EventSubscription = await bus.subscribeEvents({ afterSeq: lastSeq }, async (delivery) => {
    const item: QueuedEvent = { jobId: delivery.jobId, seq: delivery.seq, event: delivery.event, at: delivery.time };
    if (isToken(item)) live.received(item);
    queue.push(item);
    kick();
    if (queue.length >= QUEUE_HIGH_WATER) await new Promise<void>((resolve) => roomWaiters.push(resolve));
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
      for (const wake of roomWaiters.splice(0)) wake();
      await subscription.stop();
      await draining;
    },
  };
}
