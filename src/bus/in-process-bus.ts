/**
 * @module bus/in-process-bus — the job bus inside one process, with JetStream's semantics: message id = job id
 * dedupe within the duplicate window, work-queue delivery (each job to one consumer at a time, in publish
 * order), explicit ack with ack-wait redelivery, `nak(delay)`, `working()`, `term()`, dead letters after
 * `maxDeliver` deliveries, and a replayable event log with one global sequence; plus the facets (cancellation
 * requests, runner heartbeats, artifacts: bus/in-process-stores.ts). Jobs, events, requests and heartbeats live only
 * in this process (artifacts too, unless `artifactsDir` is given): used by `npm start` when no nats-server is
 * available or PARM_BUS=inprocess; the embedded runner reaches it over IPC (bus/ipc-bus.ts).
 */
import {
  JOB_KINDS,
  parseJobEnvelope,
  parseJobEvent,
  type JobEnvelope,
  type JobEvent,
  type JobKind,
} from "../contracts/index.ts";
import { inProcessStores, type InProcessStores } from "./in-process-stores.ts";
import { busNames, type BusNames } from "./names.ts";
import {
  BusClosedError,
  DEFAULT_JOB_QUEUE_SETTINGS,
  checkAfterSeq,
  checkJobKind,
  checkPullOptions,
  type ArtifactBucket,
  type BusLogger,
  type DeadLetter,
  type EventDelivery,
  type EventHandler,
  type EventSubscription,
  type JobBus,
  type JobCancels,
  type JobDelivery,
  type JobQueueDepth,
  type JobQueueSettings,
  type JobsReadyHandler,
  type BusWatch,
  type PublishedJob,
  type PullJobsOptions,
  type RunnerHeartbeats,
  type SubscribeEventsOptions,
} from "./types.ts";

export interface InProcessBusOptions {
  readonly settings?: Partial<JobQueueSettings>;
  readonly log?: BusLogger;
  /** Keep artifacts as files under this folder (they survive the process); default: in memory. */
  readonly artifactsDir?: string;
  /** Event sequences start after this (default 0). A restarted api passes the highest sequence it ingested, so the
   *  new events are not taken for ones it already has. */
  readonly eventSeqAfter?: number;
}

interface QueuedJob {
  readonly seq: number;
  readonly envelope: JobEnvelope;
  readonly subject: string;
  deliveries: number;
  state: "ready" | "in-flight" | "delayed";
  /** Incremented per delivery; operations of an older delivery are ignored. */
  token: number;
  timer: NodeJS.Timeout | null;
}

interface Waiter {
  readonly max: number;
  readonly collected: JobDelivery[];
  readonly resolve: (deliveries: JobDelivery[]) => void;
  timer: NodeJS.Timeout | null;
}

interface Subscriber {
  readonly jobId: string | undefined;
  readonly afterSeq: number;
  readonly handler: EventHandler;
  nextIndex: number;
  pumping: Promise<void> | null;
  stopped: boolean;
}

const silent: BusLogger = { info: () => {}, warn: () => {} };

function roundTrip<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** An in-process bus with these options (checked here: a negative `eventSeqAfter` is a BusArgumentError). */
export function createInProcessBus(options: InProcessBusOptions = {}): JobBus {
  return new InProcessBus({
    settings: { ...DEFAULT_JOB_QUEUE_SETTINGS, ...options.settings },
    log: options.log ?? silent,
    artifactsDir: options.artifactsDir,
    eventSeqAfter: checkAfterSeq(options.eventSeqAfter),
  });
}

interface InProcessBusParts {
  readonly settings: JobQueueSettings;
  readonly log: BusLogger;
  readonly artifactsDir: string | undefined;
  readonly eventSeqAfter: number;
}

interface ReadyWatcher {
  readonly kinds: ReadonlySet<JobKind>;
  readonly handler: JobsReadyHandler;
}

/** The job bus inside this process (see the module comment); made by `createInProcessBus`. */
class InProcessBus implements JobBus {
  readonly kind = "in-process" as const;
  readonly settings: JobQueueSettings;
  readonly cancels: JobCancels;
  readonly runners: RunnerHeartbeats;
  readonly artifacts: ArtifactBucket;
  readonly #log: BusLogger;
  readonly #names: BusNames = busNames();
  readonly #stores: InProcessStores;
  readonly #queues = new Map<JobKind, Map<number, QueuedJob>>(JOB_KINDS.map((k) => [k, new Map()]));
  readonly #waiters = new Map<JobKind, Waiter[]>(JOB_KINDS.map((k) => [k, []]));
  readonly #recentIds = new Map<string, { seq: number; at: number }>();
  readonly #events: EventDelivery[] = [];
  readonly #subscribers = new Set<Subscriber>();
  readonly #deadLetterHandlers = new Set<(deadLetter: DeadLetter) => void | Promise<void>>();
  readonly #readyWatchers = new Set<ReadyWatcher>();
  #jobSeq = 0;
  #eventSeq: number;
  #closed = false;

  constructor(parts: InProcessBusParts) {
    this.settings = parts.settings;
    this.#log = parts.log;
    this.#eventSeq = parts.eventSeqAfter;
    this.#stores = inProcessStores({
      heartbeatTtlMs: parts.settings.heartbeatTtlMs,
      artifactsDir: parts.artifactsDir,
      log: parts.log,
      ensureOpen: () => this.#ensureOpen(),
    });
    this.cancels = this.#stores.cancels;
    this.runners = this.#stores.runners;
    this.artifacts = this.#stores.artifacts;
  }

  async publishJob(envelope: JobEnvelope): Promise<PublishedJob> {
    this.#ensureOpen();
    const valid = parseJobEnvelope(roundTrip(envelope));
    const now = Date.now();
    this.#forgetExpiredIds(now);
    const seen = this.#recentIds.get(valid.jobId);
    if (seen) return { seq: seen.seq, duplicate: true };
    const seq = ++this.#jobSeq;
    this.#recentIds.set(valid.jobId, { seq, at: now });
    this.#queue(valid.kind).set(seq, {
      seq,
      envelope: valid,
      subject: this.#names.jobSubject(valid.kind, valid.tenantId),
      deliveries: 0,
      state: "ready",
      token: 0,
      timer: null,
    });
    this.#dispatch(valid.kind);
    return { seq, duplicate: false };
  }

  async pullJobs(kind: JobKind, pull: PullJobsOptions): Promise<JobDelivery[]> {
    this.#ensureOpen();
    checkJobKind("pullJobs", kind);
    checkPullOptions(pull);
    return new Promise<JobDelivery[]>((resolve) => {
      const waiter: Waiter = { max: pull.max, collected: [], resolve, timer: null };
      const queue = this.#waiters.get(kind)!;
      queue.push(waiter);
      this.#dispatch(kind);
      if (!queue.includes(waiter)) return;
      if (pull.expiresMs === 0) {
        endWait(queue, waiter);
        return;
      }
      waiter.timer = setTimeout(() => endWait(queue, waiter), pull.expiresMs);
    });
  }

  async watchJobs(kinds: readonly JobKind[], handler: JobsReadyHandler): Promise<BusWatch> {
    this.#ensureOpen();
    for (const kind of kinds) checkJobKind("watchJobs", kind);
    const watcher: ReadyWatcher = { kinds: new Set(kinds), handler };
    this.#readyWatchers.add(watcher);
    return {
      stop: async () => {
        this.#readyWatchers.delete(watcher);
      },
    };
  }

  async publishEvent(jobId: string, event: JobEvent): Promise<{ seq: number }> {
    this.#ensureOpen();
    this.#names.eventSubject(jobId); // validates the id as a subject token
    const valid = parseJobEvent(roundTrip(event));
    const seq = ++this.#eventSeq;
    this.#events.push({ seq, jobId, event: valid, time: new Date() });
    for (const subscriber of this.#subscribers) this.#pumpEvents(subscriber);
    return { seq };
  }

  async subscribeEvents(subscribe: SubscribeEventsOptions, handler: EventHandler): Promise<EventSubscription> {
    this.#ensureOpen();
    if (subscribe.jobId !== undefined) this.#names.eventSubject(subscribe.jobId);
    const subscriber: Subscriber = {
      jobId: subscribe.jobId,
      afterSeq: checkAfterSeq(subscribe.afterSeq),
      handler,
      nextIndex: 0,
      pumping: null,
      stopped: false,
    };
    this.#subscribers.add(subscriber);
    this.#pumpEvents(subscriber);
    return {
      stop: async () => {
        subscriber.stopped = true;
        this.#subscribers.delete(subscriber);
        await subscriber.pumping;
      },
    };
  }

  async readEvents(jobId: string, afterSeq?: number): Promise<EventDelivery[]> {
    this.#ensureOpen();
    this.#names.eventSubject(jobId);
    const after = checkAfterSeq(afterSeq);
    return this.#events.filter((e) => e.jobId === jobId && e.seq > after).map(copyEvent);
  }

  onDeadLetter(handler: (deadLetter: DeadLetter) => void | Promise<void>): () => void {
    this.#deadLetterHandlers.add(handler);
    return () => {
      this.#deadLetterHandlers.delete(handler);
    };
  }

  async queueDepth(kind: JobKind): Promise<JobQueueDepth> {
    this.#ensureOpen();
    const jobs = [...this.#queue(kind).values()];
    return {
      pending: jobs.filter((j) => j.state !== "in-flight").length,
      inFlight: jobs.filter((j) => j.state === "in-flight").length,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stores.stopWatches();
    this.#readyWatchers.clear();
    for (const queue of this.#queues.values()) for (const job of queue.values()) clearTimer(job);
    for (const queue of this.#waiters.values()) for (const waiter of queue.splice(0)) answerWaiter(waiter);
    const pending = [...this.#subscribers].map((s) => {
      s.stopped = true;
      return s.pumping;
    });
    this.#subscribers.clear();
    await Promise.all(pending);
  }

  #ensureOpen(): void {
    if (this.#closed) throw new BusClosedError();
  }

  #queue(kind: JobKind): Map<number, QueuedJob> {
    return this.#queues.get(kind)!;
  }

  /** Drops the job ids older than the duplicate window. */
  #forgetExpiredIds(now: number): void {
    for (const [id, entry] of this.#recentIds) if (now - entry.at > this.settings.duplicateWindowMs) this.#recentIds.delete(id);
  }

  /** Hands ready jobs, oldest first, to waiting pulls, oldest pull first, within maxAckPending; a ready job left
   *  over is announced to the `watchJobs` handlers of its kind. */
  #dispatch(kind: JobKind): void {
    const queue = this.#waiters.get(kind)!;
    let ready = this.#readyJob(kind);
    while (queue.length > 0 && ready) {
      const waiter = queue[0];
      waiter.collected.push(this.#deliver(kind, ready));
      if (waiter.collected.length >= waiter.max) {
        queue.shift();
        answerWaiter(waiter);
      }
      ready = this.#readyJob(kind);
    }
    if (ready) this.#announceReady(kind);
  }

  #readyJob(kind: JobKind): QueuedJob | undefined {
    const jobs = [...this.#queue(kind).values()];
    if (jobs.filter((j) => j.state === "in-flight").length >= this.settings.maxAckPending) return undefined;
    return jobs.find((j) => j.state === "ready");
  }

  #announceReady(kind: JobKind): void {
    for (const watcher of this.#readyWatchers) {
      if (!watcher.kinds.has(kind)) continue;
      queueMicrotask(() => {
        if (!this.#readyWatchers.has(watcher)) return;
        try {
          watcher.handler(kind);
        } catch (error) {
          this.#log.warn(`watchJobs handler failed: ${String(error)}`);
        }
      });
    }
  }

  /** One more delivery of `job`: in flight until settled; settling an older delivery does nothing. */
  #deliver(kind: JobKind, job: QueuedJob): JobDelivery {
    job.deliveries++;
    job.token++;
    job.state = "in-flight";
    const token = job.token;
    this.#startAckTimer(kind, job);
    const current = () => job.token === token && job.state === "in-flight" && this.#queue(kind).get(job.seq) === job;
    return {
      envelope: roundTrip(job.envelope),
      subject: job.subject,
      seq: job.seq,
      deliveryCount: job.deliveries,
      ack: async () => {
        if (current()) this.#remove(kind, job);
      },
      nak: (delayMs = 0) => {
        if (current()) this.#release(kind, job, Math.max(0, delayMs));
      },
      working: () => {
        if (current()) this.#startAckTimer(kind, job);
      },
      term: () => {
        if (current()) this.#remove(kind, job);
      },
    };
  }

  /** Acked or terminated: the job leaves the queue. */
  #remove(kind: JobKind, job: QueuedJob): void {
    clearTimer(job);
    this.#queue(kind).delete(job.seq);
    this.#dispatch(kind);
  }

  #startAckTimer(kind: JobKind, job: QueuedJob): void {
    clearTimer(job);
    const token = job.token;
    job.timer = setTimeout(() => {
      job.timer = null;
      if (job.token === token && job.state === "in-flight") this.#release(kind, job, 0);
    }, this.settings.ackWaitMs);
    job.timer.unref();
  }

  /** A delivery ended without ack (nak or ack-wait expiry): redeliver, later or now, or dead-letter. */
  #release(kind: JobKind, job: QueuedJob, delayMs: number): void {
    clearTimer(job);
    if (job.deliveries >= this.settings.maxDeliver) {
      this.#deadLetter(kind, job);
      return;
    }
    if (delayMs > 0) {
      job.state = "delayed";
      job.timer = setTimeout(() => {
        job.timer = null;
        job.state = "ready";
        this.#dispatch(kind);
      }, delayMs);
      job.timer.unref();
      return;
    }
    job.state = "ready";
    this.#dispatch(kind);
  }

  #deadLetter(kind: JobKind, job: QueuedJob): void {
    clearTimer(job);
    this.#queue(kind).delete(job.seq);
    const letter: DeadLetter = { envelope: job.envelope, seq: job.seq, deliveries: job.deliveries };
    this.#log.warn(`job ${job.envelope.jobId} (${kind}) dead-lettered after ${job.deliveries} deliveries`);
    for (const handler of this.#deadLetterHandlers) {
      Promise.resolve()
        .then(() => handler(letter))
        .catch((error: unknown) => this.#log.warn(`dead-letter handler failed for job ${job.envelope.jobId}: ${String(error)}`));
    }
  }

  /** Starts delivering the stored events the subscriber has not seen, unless a delivery loop runs; a new loop is
   *  started when events arrived while this one was finishing. */
  #pumpEvents(subscriber: Subscriber): void {
    if (subscriber.pumping || subscriber.stopped) return;
    const pumping = this.#deliverStoredEvents(subscriber);
    subscriber.pumping = pumping;
    void pumping.finally(() => {
      if (subscriber.pumping === pumping) subscriber.pumping = null;
      if (!subscriber.stopped && subscriber.nextIndex < this.#events.length) this.#pumpEvents(subscriber);
    });
  }

  /** One handler call at a time, in sequence order; the loop starts after `pumping` is set. */
  async #deliverStoredEvents(subscriber: Subscriber): Promise<void> {
    await null;
    while (!subscriber.stopped && subscriber.nextIndex < this.#events.length) {
      const stored = this.#events[subscriber.nextIndex++];
      if (stored.seq <= subscriber.afterSeq) continue;
      if (subscriber.jobId !== undefined && stored.jobId !== subscriber.jobId) continue;
      try {
        await subscriber.handler(copyEvent(stored));
      } catch (error) {
        this.#log.warn(`event handler failed at seq ${stored.seq}: ${String(error)}`);
      }
    }
  }
}

function clearTimer(job: QueuedJob): void {
  if (job.timer) clearTimeout(job.timer);
  job.timer = null;
}

/** Resolves a pull with what it collected. */
function answerWaiter(waiter: Waiter): void {
  if (waiter.timer) clearTimeout(waiter.timer);
  waiter.resolve(waiter.collected);
}

/** A pull's wait ended (no wait, or its expiry): it leaves the queue with what it collected. */
function endWait(queue: Waiter[], waiter: Waiter): void {
  const index = queue.indexOf(waiter);
  if (index >= 0) queue.splice(index, 1);
  waiter.resolve(waiter.collected);
}

/** A stored event as handed out (the subscriber's copy). */
function copyEvent(stored: EventDelivery): EventDelivery {
  return { seq: stored.seq, jobId: stored.jobId, event: roundTrip(stored.event), time: new Date(stored.time) };
}
