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
  type JobKind,
} from "../contracts/index.ts";
import { inProcessStores } from "./in-process-stores.ts";
import { busNames, type BusNames } from "./names.ts";
import {
  BusClosedError,
  DEFAULT_JOB_QUEUE_SETTINGS,
  checkAfterSeq,
  checkJobKind,
  checkPullOptions,
  type BusLogger,
  type DeadLetter,
  type EventDelivery,
  type EventHandler,
  type EventSubscription,
  type JobBus,
  type JobDelivery,
  type JobQueueDepth,
  type JobQueueSettings,
  type JobsReadyHandler,
  type BusWatch,
  type PublishedJob,
  type PullJobsOptions,
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

export function createInProcessBus(options: InProcessBusOptions = {}): JobBus {
  const settings: JobQueueSettings = { ...DEFAULT_JOB_QUEUE_SETTINGS, ...options.settings };
  const log = options.log ?? silent;
  const names: BusNames = busNames();
  let jobSeq = 0;
  let eventSeq = checkAfterSeq(options.eventSeqAfter);
  let closed = false;
  const queues = new Map<JobKind, Map<number, QueuedJob>>(JOB_KINDS.map((k) => [k, new Map()]));
  const waiters = new Map<JobKind, Waiter[]>(JOB_KINDS.map((k) => [k, []]));
  const recentIds = new Map<string, { seq: number; at: number }>();
  const events: EventDelivery[] = [];
  const subscribers = new Set<Subscriber>();
  const deadLetterHandlers = new Set<(deadLetter: DeadLetter) => void | Promise<void>>();

  const ensureOpen = () => {
    if (closed) throw new BusClosedError();
  };
  const stores = inProcessStores({ heartbeatTtlMs: settings.heartbeatTtlMs, artifactsDir: options.artifactsDir, log, ensureOpen });
  const clearTimer = (job: QueuedJob) => {
    if (job.timer) clearTimeout(job.timer);
    job.timer = null;
  };
  const inFlightCount = (kind: JobKind) => [...queues.get(kind)!.values()].filter((j) => j.state === "in-flight").length;

  const deadLetter = (kind: JobKind, job: QueuedJob) => {
    clearTimer(job);
    queues.get(kind)!.delete(job.seq);
    const letter: DeadLetter = { envelope: job.envelope, seq: job.seq, deliveries: job.deliveries };
    log.warn(`job ${job.envelope.jobId} (${kind}) dead-lettered after ${job.deliveries} deliveries`);
    for (const handler of deadLetterHandlers) {
      Promise.resolve()
        .then(() => handler(letter))
        .catch((error: unknown) => log.warn(`dead-letter handler failed for job ${job.envelope.jobId}: ${String(error)}`));
    }
  };

  /** A delivery ended without ack (nak or ack-wait expiry): redeliver, later or now, or dead-letter. */
  const release = (kind: JobKind, job: QueuedJob, delayMs: number) => {
    clearTimer(job);
    if (job.deliveries >= settings.maxDeliver) {
      deadLetter(kind, job);
      return;
    }
    if (delayMs > 0) {
      job.state = "delayed";
      job.timer = setTimeout(() => {
        job.timer = null;
        job.state = "ready";
        dispatch(kind);
      }, delayMs);
      job.timer.unref();
      return;
    }
    job.state = "ready";
    dispatch(kind);
  };

  const startAckTimer = (kind: JobKind, job: QueuedJob) => {
    clearTimer(job);
    const token = job.token;
    job.timer = setTimeout(() => {
      job.timer = null;
      if (job.token === token && job.state === "in-flight") release(kind, job, 0);
    }, settings.ackWaitMs);
    job.timer.unref();
  };

  const deliver = (kind: JobKind, job: QueuedJob): JobDelivery => {
    job.deliveries++;
    job.token++;
    job.state = "in-flight";
    const token = job.token;
    startAckTimer(kind, job);
    const current = () => job.token === token && job.state === "in-flight" && queues.get(kind)!.get(job.seq) === job;
    return {
      envelope: roundTrip(job.envelope),
      subject: job.subject,
      seq: job.seq,
      deliveryCount: job.deliveries,
      async ack() {
        if (!current()) return;
        clearTimer(job);
        queues.get(kind)!.delete(job.seq);
        dispatch(kind);
      },
      nak(delayMs = 0) {
        if (current()) release(kind, job, Math.max(0, delayMs));
      },
      working() {
        if (current()) startAckTimer(kind, job);
      },
      term() {
        if (!current()) return;
        clearTimer(job);
        queues.get(kind)!.delete(job.seq);
        dispatch(kind);
      },
    };
  };

  const readyJob = (kind: JobKind): QueuedJob | undefined =>
    inFlightCount(kind) >= settings.maxAckPending ? undefined : [...queues.get(kind)!.values()].find((j) => j.state === "ready");

  /** Hands ready jobs, oldest first, to waiting pulls, oldest pull first, within maxAckPending; a ready job left
   *  over is announced to the `watchJobs` handlers of its kind. */
  const dispatch = (kind: JobKind) => {
    const queue = waiters.get(kind)!;
    let ready = readyJob(kind);
    while (queue.length > 0 && ready) {
      const waiter = queue[0];
      waiter.collected.push(deliver(kind, ready));
      if (waiter.collected.length >= waiter.max) {
        queue.shift();
        if (waiter.timer) clearTimeout(waiter.timer);
        waiter.resolve(waiter.collected);
      }
      ready = readyJob(kind);
    }
    if (ready) announceReady(kind);
  };

  const readyWatchers = new Set<{ readonly kinds: ReadonlySet<JobKind>; readonly handler: JobsReadyHandler }>();
  const announceReady = (kind: JobKind) => {
    for (const watcher of readyWatchers) {
      if (!watcher.kinds.has(kind)) continue;
      queueMicrotask(() => {
        if (!readyWatchers.has(watcher)) return;
        try {
          watcher.handler(kind);
        } catch (error) {
          log.warn(`watchJobs handler failed: ${String(error)}`);
        }
      });
    }
  };

  /** Delivers the stored events the subscriber has not seen, one handler call at a time. The loop starts after
   *  `pumping` is set and a new pump is started when events arrived while this one was finishing. */
  const pumpEvents = (subscriber: Subscriber): void => {
    if (subscriber.pumping || subscriber.stopped) return;
    const pumping = (async () => {
      await null;
      while (!subscriber.stopped && subscriber.nextIndex < events.length) {
        const stored = events[subscriber.nextIndex++];
        if (stored.seq <= subscriber.afterSeq) continue;
        if (subscriber.jobId !== undefined && stored.jobId !== subscriber.jobId) continue;
        try {
          await subscriber.handler({ seq: stored.seq, jobId: stored.jobId, event: roundTrip(stored.event), time: new Date(stored.time) });
        } catch (error) {
          log.warn(`event handler failed at seq ${stored.seq}: ${String(error)}`);
        }
      }
    })();
    subscriber.pumping = pumping;
    void pumping.finally(() => {
      if (subscriber.pumping === pumping) subscriber.pumping = null;
      if (!subscriber.stopped && subscriber.nextIndex < events.length) pumpEvents(subscriber);
    });
  };

  return {
    kind: "in-process",
    settings,
    cancels: stores.cancels,
    runners: stores.runners,
    artifacts: stores.artifacts,

    async publishJob(envelope: JobEnvelope): Promise<PublishedJob> {
      ensureOpen();
      const valid = parseJobEnvelope(roundTrip(envelope));
      const now = Date.now();
      for (const [id, entry] of recentIds) if (now - entry.at > settings.duplicateWindowMs) recentIds.delete(id);
      const seen = recentIds.get(valid.jobId);
      if (seen) return { seq: seen.seq, duplicate: true };
      const seq = ++jobSeq;
      recentIds.set(valid.jobId, { seq, at: now });
      queues.get(valid.kind)!.set(seq, {
        seq,
        envelope: valid,
        subject: names.jobSubject(valid.kind, valid.tenantId),
        deliveries: 0,
        state: "ready",
        token: 0,
        timer: null,
      });
      dispatch(valid.kind);
      return { seq, duplicate: false };
    },

    async pullJobs(kind: JobKind, pull: PullJobsOptions): Promise<JobDelivery[]> {
      ensureOpen();
      checkJobKind("pullJobs", kind);
      checkPullOptions(pull);
      return new Promise<JobDelivery[]>((resolve) => {
        const waiter: Waiter = { max: pull.max, collected: [], resolve, timer: null };
        const queue = waiters.get(kind)!;
        queue.push(waiter);
        dispatch(kind);
        if (!queue.includes(waiter)) return;
        if (pull.expiresMs === 0) {
          queue.splice(queue.indexOf(waiter), 1);
          resolve(waiter.collected);
          return;
        }
        waiter.timer = setTimeout(() => {
          const index = queue.indexOf(waiter);
          if (index >= 0) queue.splice(index, 1);
          resolve(waiter.collected);
        }, pull.expiresMs);
      });
    },

    async watchJobs(kinds: readonly JobKind[], handler: JobsReadyHandler): Promise<BusWatch> {
      ensureOpen();
      for (const kind of kinds) checkJobKind("watchJobs", kind);
      const watcher = { kinds: new Set(kinds), handler };
      readyWatchers.add(watcher);
      return {
        async stop() {
          readyWatchers.delete(watcher);
        },
      };
    },

    async publishEvent(jobId: string, event) {
      ensureOpen();
      names.eventSubject(jobId); // validates the id as a subject token
      const valid = parseJobEvent(roundTrip(event));
      const seq = ++eventSeq;
      events.push({ seq, jobId, event: valid, time: new Date() });
      for (const subscriber of subscribers) pumpEvents(subscriber);
      return { seq };
    },

    async subscribeEvents(subscribe: SubscribeEventsOptions, handler: EventHandler): Promise<EventSubscription> {
      ensureOpen();
      if (subscribe.jobId !== undefined) names.eventSubject(subscribe.jobId);
      const subscriber: Subscriber = {
        jobId: subscribe.jobId,
        afterSeq: checkAfterSeq(subscribe.afterSeq),
        handler,
        nextIndex: 0,
        pumping: null,
        stopped: false,
      };
      subscribers.add(subscriber);
      pumpEvents(subscriber);
      return {
        async stop() {
          subscriber.stopped = true;
          subscribers.delete(subscriber);
          await subscriber.pumping;
        },
      };
    },

    async readEvents(jobId: string, afterSeq?: number): Promise<EventDelivery[]> {
      ensureOpen();
      names.eventSubject(jobId);
      const after = checkAfterSeq(afterSeq);
      return events
        .filter((e) => e.jobId === jobId && e.seq > after)
        .map((e) => ({ seq: e.seq, jobId: e.jobId, event: roundTrip(e.event), time: new Date(e.time) }));
    },

    onDeadLetter(handler) {
      deadLetterHandlers.add(handler);
      return () => {
        deadLetterHandlers.delete(handler);
      };
    },

    async queueDepth(kind: JobKind): Promise<JobQueueDepth> {
      ensureOpen();
      const jobs = [...queues.get(kind)!.values()];
      return {
        pending: jobs.filter((j) => j.state !== "in-flight").length,
        inFlight: jobs.filter((j) => j.state === "in-flight").length,
      };
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      stores.stopWatches();
      readyWatchers.clear();
      for (const queue of queues.values()) for (const job of queue.values()) clearTimer(job);
      for (const queue of waiters.values()) {
        for (const waiter of queue.splice(0)) {
          if (waiter.timer) clearTimeout(waiter.timer);
          waiter.resolve(waiter.collected);
        }
      }
      const pending = [...subscribers].map((s) => {
        s.stopped = true;
        return s.pumping;
      });
      subscribers.clear();
      await Promise.all(pending);
    },
  };
}
