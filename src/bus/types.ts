/**
 * @module bus/types — the job bus port shared by api and runner: jobs on a work queue (at-least-once, explicit
 * ack, redelivery, dead letters) and replayable per-job event streams. Two implementations honour it:
 * NATS JetStream (`connectJetStreamBus`) and an in-process bus (`createInProcessBus`) for single-process runs.
 */
import type { JobEnvelope, JobEvent, JobKind } from "../contracts/index.ts";

export type BusKind = "jetstream" | "in-process";

/** Minimal logger (console, pino and friends fit). Messages never contain prompts, outputs or secrets. */
export interface BusLogger {
  info(message: string): void;
  warn(message: string): void;
}

/** Result of publishing a job. `duplicate`: a job with the same id was already published within the duplicate window; `seq` is then the original's sequence. */
export interface PublishedJob {
  readonly seq: number;
  readonly duplicate: boolean;
}

/**
 * One delivery of a job to a consumer. Until `ack`, `nak` or `term`, the job is in flight: if neither happens
 * within the ack wait (reset by `working()`), it is delivered again. After `maxDeliver` deliveries without an ack
 * it is dead-lettered instead (see {@link JobBus.onDeadLetter}).
 */
export interface JobDelivery {
  readonly envelope: JobEnvelope;
  readonly subject: string;
  /** Sequence of the job message in the jobs stream. */
  readonly seq: number;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  /** Done: removes the job from the queue. Resolves once the bus confirmed it; repeating it is a no-op. */
  ack(): Promise<void>;
  /** Not done: deliver again after `delayMs` (default: at once). */
  nak(delayMs?: number): void;
  /** Still running: restarts the ack-wait timer. Call at least every ackWait/3. */
  working(): void;
  /** Poison: removes the job without redelivery or dead letter. */
  term(): void;
}

export interface PullJobsOptions {
  /** Most jobs to return (≥ 1). */
  readonly max: number;
  /** Longest wait in ms (≥ 1000, a JetStream minimum). Returns early once `max` jobs arrived. */
  readonly expiresMs: number;
}

/** One stored job event. `seq` is its sequence in the events stream: increasing, unique across all jobs. */
export interface EventDelivery {
  readonly seq: number;
  readonly jobId: string;
  readonly event: JobEvent;
  readonly time: Date;
}

export interface SubscribeEventsOptions {
  /** Only this job's events; omitted: every job's (for ingest). */
  readonly jobId?: string;
  /** Deliver events with seq > afterSeq (default 0: everything stored), then live ones. */
  readonly afterSeq?: number;
}

export type EventHandler = (delivery: EventDelivery) => void | Promise<void>;

export interface EventSubscription {
  /** Stops delivery; resolves when the handler will not be called again. */
  stop(): Promise<void>;
}

/** A job that exhausted its deliveries: copied to the dead-letter stream and removed from the queue. */
export interface DeadLetter {
  readonly envelope: JobEnvelope;
  readonly seq: number;
  readonly deliveries: number;
}

export interface JobQueueDepth {
  /** Jobs waiting for a consumer. */
  readonly pending: number;
  /** Jobs delivered and not yet acked. */
  readonly inFlight: number;
}

export interface JobBus {
  readonly kind: BusKind;
  /** The NATS server URL (JetStream buses only): runners, KV buckets and the object store use the same server. */
  readonly url?: string;
  /** Publishes a job on `jobs.<kind>.<tenantId>` with message id = job id (duplicates collapse). Validates the envelope. */
  publishJob(envelope: JobEnvelope): Promise<PublishedJob>;
  /** Pulls up to `max` jobs of one kind (work-queue: each job goes to one consumer at a time). */
  pullJobs(kind: JobKind, options: PullJobsOptions): Promise<JobDelivery[]>;
  /** Appends an event to `events.job.<jobId>`. Validates the event. */
  publishEvent(jobId: string, event: JobEvent): Promise<{ seq: number }>;
  /** Replays stored events after `afterSeq` in order, then delivers new ones as they come; one handler call at a time. */
  subscribeEvents(options: SubscribeEventsOptions, handler: EventHandler): Promise<EventSubscription>;
  /** Stored events of one job after `afterSeq` (default 0), in order. */
  readEvents(jobId: string, afterSeq?: number): Promise<EventDelivery[]>;
  /**
   * Registers a handler for dead-lettered jobs (e.g. to mark them FAILED). Returns an unregister function.
   * Register it in one kind of process (the api) at start-up: on JetStream, the process with a handler is the one
   * that moves exhausted jobs to JOBS_DLQ; without any, they stay in JOBS undelivered (the reconciler sees them).
   */
  onDeadLetter(handler: (deadLetter: DeadLetter) => void | Promise<void>): () => void;
  /** Queue depth of one kind (metrics `parm_jobs_pending`). */
  queueDepth(kind: JobKind): Promise<JobQueueDepth>;
  /** Releases connections (and a nats-server this bus started). In-flight deliveries are redelivered later. */
  close(): Promise<void>;
}

/** Tunables shared by both implementations. */
export interface JobQueueSettings {
  /** Redeliver when not acked for this long (default 30 000 ms). */
  readonly ackWaitMs: number;
  /** Deliveries before a job is dead-lettered (default 5). */
  readonly maxDeliver: number;
  /** Window in which a repeated job id is a duplicate (default 10 min). */
  readonly duplicateWindowMs: number;
  /** In-flight jobs per kind across all consumers (default 64). */
  readonly maxAckPending: number;
}

export const DEFAULT_JOB_QUEUE_SETTINGS: JobQueueSettings = {
  ackWaitMs: 30_000,
  maxDeliver: 5,
  duplicateWindowMs: 10 * 60_000,
  maxAckPending: 64,
};

/** A bus call's arguments are unusable. */
export class BusArgumentError extends Error {
  override readonly name = "BusArgumentError";
  readonly code = "BUS_INVALID_ARGUMENT" as const;
}

/** The bus was used after `close()`. */
export class BusClosedError extends Error {
  override readonly name = "BusClosedError";
  readonly code = "BUS_CLOSED" as const;
  constructor() {
    super("the job bus is closed");
  }
}

/** The transport failed (connection lost, stream misconfigured); `cause` holds the original error. */
export class BusTransportError extends Error {
  override readonly name = "BusTransportError";
  readonly code = "BUS_TRANSPORT_FAILED" as const;
}

export function checkPullOptions(options: PullJobsOptions): void {
  if (!Number.isInteger(options.max) || options.max < 1) {
    throw new BusArgumentError(`pullJobs: max must be an integer >= 1, got ${options.max}`);
  }
  if (!Number.isFinite(options.expiresMs) || options.expiresMs < 1000) {
    throw new BusArgumentError(`pullJobs: expiresMs must be >= 1000, got ${options.expiresMs}`);
  }
}

export function checkAfterSeq(afterSeq: number | undefined): number {
  const value = afterSeq ?? 0;
  if (!Number.isInteger(value) || value < 0) throw new BusArgumentError(`afterSeq must be an integer >= 0, got ${value}`);
  return value;
}
