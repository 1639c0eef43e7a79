/**
 * @module bus/types — the job bus port shared by api and runner: everything that crosses between them. Jobs on a
 * work queue (at-least-once, explicit ack, redelivery, dead letters), replayable per-job event streams, and three
 * facets: cancellation requests (`cancels`), runner heartbeats (`runners`) and the artifact store (`artifacts`).
 * Three implementations honour it: NATS JetStream (`connectJetStreamBus`: streams, KV buckets and an object store
 * over one connection), the in-process bus (`createInProcessBus`) for a single machine without nats-server, and a
 * client of another process's bus over the Node IPC channel (`connectIpcBus`, served by `serveBusOverIpc`).
 */
import { JOB_KINDS, RUNNER_HEARTBEAT_TTL_MS, type JobEnvelope, type JobEvent, type JobKind, type RunnerHeartbeat } from "../contracts/index.ts";

export type BusKind = "jetstream" | "in-process" | "ipc";

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
  /** Longest wait in ms: 0 answers at once with the jobs ready now (none waited for); otherwise ≥ 1000 (a JetStream
   *  minimum), returning early once `max` jobs arrived. */
  readonly expiresMs: number;
}

/** Called with the kind of a job that may have become ready to pull. */
export type JobsReadyHandler = (kind: JobKind) => void;

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

/** Ends a watch; resolves when its handler will not be called again. */
export interface BusWatch {
  stop(): Promise<void>;
}

/**
 * Cancellation requests, by job id (JetStream: KV bucket `job_cancels`, entries kept 24 h). Durable: a runner that
 * starts or reconnects after the request still sees it, also for a redelivered job.
 */
export interface JobCancels {
  /** Records a request to cancel `jobId` (repeating it is harmless). */
  request(jobId: string): Promise<void>;
  /** Whether a request for `jobId` is stored. */
  isRequested(jobId: string): Promise<boolean>;
  /** Calls `handler` with the job id of every stored request, then of each new one; one call per request seen. */
  watch(handler: (jobId: string) => void): Promise<BusWatch>;
}

/** A stored heartbeat: the runner's JSON as written (validate it before use: `parseRunnerHeartbeat`). */
export interface RunnerHeartbeatEntry {
  readonly runnerId: string;
  readonly heartbeat: unknown;
}

/** A heartbeat written (`heartbeat` set) or removed (`heartbeat` null). Expiry is silent, as in a KV bucket. */
export interface RunnerHeartbeatChange {
  readonly runnerId: string;
  readonly heartbeat: unknown | null;
}

/**
 * Runner heartbeats, key = runner id (JetStream: KV bucket `runners` with max_age = `heartbeatTtlMs`). An entry not
 * rewritten within the TTL disappears.
 */
export interface RunnerHeartbeats {
  /** Writes (replaces) the runner's heartbeat; it expires `heartbeatTtlMs` later unless written again. */
  put(runnerId: string, heartbeat: RunnerHeartbeat): Promise<void>;
  /** Removes the runner's heartbeat (a stopping runner); a missing one is no error. */
  delete(runnerId: string): Promise<void>;
  /** The live heartbeats, sorted by runner id. */
  list(): Promise<RunnerHeartbeatEntry[]>;
  /** Calls `handler` for every heartbeat written or removed from now on. */
  watch(handler: (change: RunnerHeartbeatChange) => void): Promise<BusWatch>;
}

/** What `ArtifactBucket.put` stored. */
export interface StoredArtifact {
  readonly key: string;
  /** Lowercase hex sha256 of the bytes. */
  readonly sha256: string;
  readonly sizeBytes: number;
}

export interface ArtifactInfo {
  readonly key: string;
  readonly sizeBytes: number;
  /** When it was stored. */
  readonly modified: Date;
}

/** Bytes given at once, or streamed (a Node Readable, a web ReadableStream and an async generator all qualify). */
export type ArtifactSource = Uint8Array | AsyncIterable<Uint8Array>;

/**
 * The artifact store: model files, dataset snapshots, checkpoints, adapters, evaluators (JetStream: object store
 * `artifacts`). Keys are object names (`datasets/<tenant>/<dataset>.records.jsonl`, …, see docs/runners.md); a
 * payload location `obj://artifacts/<key>` names one. Contents stream both ways.
 */
export interface ArtifactBucket {
  /** Stores `data` under `key`, replacing an object of that key once all of it arrived. */
  put(key: string, data: ArtifactSource): Promise<StoredArtifact>;
  /** The object's bytes as a stream (read it to the end or break off), or null when there is none. */
  get(key: string): Promise<AsyncIterable<Uint8Array> | null>;
  /** The object's size and time, or null when there is none. */
  info(key: string): Promise<ArtifactInfo | null>;
  /** Deletes the object; false when there was none. */
  delete(key: string): Promise<boolean>;
  /** The objects whose key starts with `prefix` (default: all), sorted by key. */
  list(prefix?: string): Promise<ArtifactInfo[]>;
}

export interface JobBus {
  readonly kind: BusKind;
  /** The NATS server URL (JetStream buses only); a runner joins this bus by connecting there. */
  readonly url?: string;
  /** The queue settings in force (for a client over IPC: those of the bus it talks to). */
  readonly settings: JobQueueSettings;
  /** Cancellation requests (`job_cancels`). */
  readonly cancels: JobCancels;
  /** Runner heartbeats (`runners`). */
  readonly runners: RunnerHeartbeats;
  /** The artifact store (`artifacts`). */
  readonly artifacts: ArtifactBucket;
  /** Publishes a job on `jobs.<kind>.<tenantId>` with message id = job id (duplicates collapse). Validates the envelope. */
  publishJob(envelope: JobEnvelope): Promise<PublishedJob>;
  /** Pulls up to `max` jobs of one kind (work-queue: each job goes to one consumer at a time). */
  pullJobs(kind: JobKind, options: PullJobsOptions): Promise<JobDelivery[]>;
  /**
   * Calls `handler` when a job of one of `kinds` is published (and, where the bus knows it, when a delayed or
   * unacknowledged job becomes ready again), so a puller with a free slot pulls at once instead of holding a long
   * pull open. A hint, not a delivery: it may be spurious (another consumer took the job) or absent (JetStream's
   * redeliveries), so a puller still pulls on a timer.
   */
  watchJobs(kinds: readonly JobKind[], handler: JobsReadyHandler): Promise<BusWatch>;
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

/** Tunables shared by the implementations. */
export interface JobQueueSettings {
  /** Redeliver when not acked for this long (default 30 000 ms). */
  readonly ackWaitMs: number;
  /** Deliveries before a job is dead-lettered (default 5). */
  readonly maxDeliver: number;
  /** Window in which a repeated job id is a duplicate (default 10 min). */
  readonly duplicateWindowMs: number;
  /** In-flight jobs per kind across all consumers (default 64). */
  readonly maxAckPending: number;
  /** How long a runner heartbeat lives unless rewritten (default RUNNER_HEARTBEAT_TTL_MS, 30 000 ms). On JetStream
   *  this is the `runners` bucket's max_age, set by the process that creates the bucket. */
  readonly heartbeatTtlMs: number;
}

export const DEFAULT_JOB_QUEUE_SETTINGS: JobQueueSettings = {
  ackWaitMs: 30_000,
  maxDeliver: 5,
  duplicateWindowMs: 10 * 60_000,
  maxAckPending: 64,
  heartbeatTtlMs: RUNNER_HEARTBEAT_TTL_MS,
};

/** How long a cancellation request is kept (the `job_cancels` bucket's max_age). */
export const CANCEL_REQUEST_TTL_MS = 24 * 3600 * 1000;

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
  if (!Number.isFinite(options.expiresMs) || (options.expiresMs !== 0 && options.expiresMs < 1000)) {
    throw new BusArgumentError(`pullJobs: expiresMs must be 0 (no wait) or >= 1000, got ${options.expiresMs}`);
  }
}

/** Validates a job kind given to `op`; returns it. */
export function checkJobKind(op: string, kind: JobKind): JobKind {
  if (!JOB_KINDS.includes(kind)) throw new BusArgumentError(`${op}: unknown job kind ${JSON.stringify(kind)}`);
  return kind;
}

export function checkAfterSeq(afterSeq: number | undefined): number {
  const value = afterSeq ?? 0;
  if (!Number.isInteger(value) || value < 0) throw new BusArgumentError(`afterSeq must be an integer >= 0, got ${value}`);
  return value;
}

/** Validates a job id or runner id used as a key of `cancels` / `runners` (a subject token); returns it. */
export function checkKeyToken(field: "jobId" | "runnerId", value: string): string {
  if (typeof value !== "string" || !/^[A-Za-z0-9_-]{1,128}$/.test(value)) {
    throw new BusArgumentError(`${field} ${JSON.stringify(value)} must be 1 to 128 letters, digits, "-" or "_"`);
  }
  return value;
}

/** Validates an artifact key: 1 to 1024 characters, no leading "/", no empty path segment, no NUL. */
export function checkArtifactKey(key: string): string {
  if (typeof key !== "string" || key.length === 0 || key.length > 1024 || key.startsWith("/") || key.includes("//") || key.endsWith("/") || key.includes("\0")) {
    throw new BusArgumentError(`artifact key ${JSON.stringify(key)} must be 1 to 1024 characters, without a leading, trailing or doubled "/" or a NUL`);
  }
  return key;
}

/** The chunks of an artifact source (a Uint8Array is one chunk). */
export async function* artifactChunks(data: ArtifactSource): AsyncGenerator<Uint8Array> {
  if (data instanceof Uint8Array) {
    yield data;
    return;
  }
  for await (const chunk of data) yield chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk as ArrayBufferLike);
}

/** Reads an artifact stream to the end into one buffer. */
export async function readArtifact(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    chunks.push(chunk);
    size += chunk.byteLength;
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
