/**
 * @module bus/jetstream-bus — the job bus on NATS JetStream (nats-server ≥ 2.9; no 2.11+ features used).
 *
 * Ensures, idempotently at connect: stream JOBS (work-queue retention, subjects `jobs.>`, duplicate window), one
 * durable pull consumer per job kind (`jobs-<kind>`, filter `jobs.<kind>.>`, explicit ack, ack_wait, max_deliver,
 * max_ack_pending), stream EVENTS (limits retention, `events.job.>`, replayable) and JOBS_DLQ (`dlq.jobs.>`).
 * Jobs are published with `Nats-Msg-Id` = job id. Dead letters: once a handler is registered, the bus listens to
 * `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JOBS.*`, copies the job to JOBS_DLQ, deletes it from JOBS and calls
 * the handlers (register them in the api only, so one process owns this).
 *
 * The facets (`cancels`, `runners`, `artifacts`: KV `job_cancels`, KV `runners`, object store `artifacts`) use the
 * same connection (bus/jetstream-stores.ts): one NATS connection per bus, so one per process.
 */
import { connect, nanos, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type Consumer,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StreamConfig,
} from "@nats-io/jetstream";
import {
  JOB_KINDS,
  parseJobEnvelope,
  parseJobEvent,
  type JobEnvelope,
  type JobEvent,
  type JobKind,
} from "../contracts/index.ts";
import { fromJsMsg, pullReady, type JobMessage } from "./jetstream-pull.ts";
import { jetStreamStores, type JetStreamStores } from "./jetstream-stores.ts";
import { busNames, storeNames, type BusNames } from "./names.ts";
import {
  BusClosedError,
  BusTransportError,
  DEFAULT_JOB_QUEUE_SETTINGS,
  checkAfterSeq,
  checkJobKind,
  checkPullOptions,
  type ArtifactBucket,
  type BusLogger,
  type BusWatch,
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
  type PublishedJob,
  type PullJobsOptions,
  type RunnerHeartbeats,
  type SubscribeEventsOptions,
} from "./types.ts";

export interface JetStreamBusOptions {
  /** Isolates streams and subjects on a shared server (see `busNames`); default "" = contract names. */
  readonly namespace?: string;
  readonly settings?: Partial<JobQueueSettings>;
  /** How long EVENTS keeps events (default 7 days). */
  readonly eventsMaxAgeMs?: number;
  readonly log?: BusLogger;
  /** Client name shown by the server. */
  readonly connectionName?: string;
  /** Runs after the connection closed (e.g. stops a nats-server the caller started for this bus). */
  readonly onClose?: () => Promise<void>;
}

const silent: BusLogger = { info: () => {}, warn: () => {} };
const encoder = new TextEncoder();
const DEFAULT_EVENTS_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
/** An event subscription's pull requests last this long (idle heartbeat: half of it); after a server restart the
 *  ordered consumer is rebuilt once two heartbeats are missed, so events flow again within about this time. */
const EVENT_PULL_EXPIRES_MS = 5000;
/** A no-wait pull is answered at once; no answer within this is a transport failure. */
const NO_WAIT_PULL_TIMEOUT_MS = 5000;

function transportError(action: string, error: unknown): BusTransportError {
  return new BusTransportError(`${action}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

function isNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && (error.code === 10059 || error.code === 10014);
}

async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }, log: BusLogger): Promise<void> {
  let existing;
  try {
    existing = await jsm.streams.info(config.name);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await jsm.streams.add(config);
    log.info(`created JetStream stream ${config.name}`);
    return;
  }
  if (existing.config.retention !== config.retention) {
    throw new BusTransportError(
      `stream ${config.name} exists with retention "${existing.config.retention}", expected "${config.retention}"; delete or rename it`,
    );
  }
  const { name, retention: _retention, storage: _storage, ...updatable } = config;
  await jsm.streams.update(name, { ...existing.config, ...updatable });
}

/** The streams and the per-kind job consumers, created or brought to these settings (idempotent). */
async function ensureTopology(jsm: JetStreamManager, names: BusNames, settings: JobQueueSettings, eventsMaxAgeMs: number, log: BusLogger): Promise<void> {
  const fileStream = { storage: StorageType.File };
  await ensureStream(jsm, { ...fileStream, name: names.jobsStream, subjects: [names.jobsWildcard], retention: RetentionPolicy.Workqueue, duplicate_window: nanos(settings.duplicateWindowMs) }, log);
  await ensureStream(jsm, { ...fileStream, name: names.eventsStream, subjects: [names.eventsWildcard], retention: RetentionPolicy.Limits, max_age: nanos(eventsMaxAgeMs) }, log);
  await ensureStream(jsm, { ...fileStream, name: names.dlqStream, subjects: [names.dlqWildcard], retention: RetentionPolicy.Limits, duplicate_window: nanos(settings.duplicateWindowMs) }, log);
  for (const kind of JOB_KINDS) await ensureJobConsumer(jsm, names, kind, settings);
}

async function ensureJobConsumer(jsm: JetStreamManager, names: BusNames, kind: JobKind, settings: JobQueueSettings): Promise<void> {
  const durable = names.jobConsumer(kind);
  const tunables = { ack_wait: nanos(settings.ackWaitMs), max_deliver: settings.maxDeliver, max_ack_pending: settings.maxAckPending };
  try {
    const info = await jsm.consumers.info(names.jobsStream, durable);
    if (info.config.filter_subject !== names.jobFilter(kind)) {
      throw new BusTransportError(`consumer ${durable} on ${names.jobsStream} filters "${info.config.filter_subject}", expected "${names.jobFilter(kind)}"`);
    }
    await jsm.consumers.update(names.jobsStream, durable, tunables);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await jsm.consumers.add(names.jobsStream, {
      durable_name: durable,
      filter_subject: names.jobFilter(kind),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ...tunables,
    });
  }
}

/** Connects to `url` and ensures streams and consumers. Throws {@link BusTransportError} when the server is unusable. */
export async function connectJetStreamBus(url: string, options: JetStreamBusOptions = {}): Promise<JobBus> {
  const settings: JobQueueSettings = { ...DEFAULT_JOB_QUEUE_SETTINGS, ...options.settings };
  const log = options.log ?? silent;
  const names: BusNames = busNames(options.namespace ?? "");
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: url, name: options.connectionName ?? "parm-bus", maxReconnectAttempts: -1 });
  } catch (error) {
    throw transportError(`cannot connect to NATS at ${url}`, error);
  }
  try {
    const jsm = await jetstreamManager(nc);
    await ensureTopology(jsm, names, settings, options.eventsMaxAgeMs ?? DEFAULT_EVENTS_MAX_AGE_MS, log);
    return new JetStreamBus({ url, nc, jsm, js: jetstream(nc), names, settings, log, namespace: options.namespace ?? "", onClose: options.onClose });
  } catch (error) {
    await nc.close().catch(() => {});
    await options.onClose?.();
    throw error instanceof BusTransportError ? error : transportError(`cannot set up JetStream on ${url}`, error);
  }
}

interface JetStreamBusParts {
  readonly url: string;
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly js: JetStreamClient;
  readonly names: BusNames;
  readonly settings: JobQueueSettings;
  readonly log: BusLogger;
  readonly namespace: string;
  readonly onClose?: () => Promise<void>;
}

/** The job bus over one NATS connection (see the module comment); made by `connectJetStreamBus`. */
class JetStreamBus implements JobBus {
  readonly kind = "jetstream" as const;
  readonly url: string;
  readonly settings: JobQueueSettings;
  readonly cancels: JobCancels;
  readonly runners: RunnerHeartbeats;
  readonly artifacts: ArtifactBucket;
  readonly #nc: NatsConnection;
  readonly #jsm: JetStreamManager;
  readonly #js: JetStreamClient;
  readonly #names: BusNames;
  readonly #log: BusLogger;
  readonly #onClose?: () => Promise<void>;
  readonly #stores: JetStreamStores;
  readonly #consumers = new Map<JobKind, Consumer>();
  readonly #subscriptions = new Set<{ stop(): Promise<void> }>();
  readonly #deadLetterHandlers = new Set<(deadLetter: DeadLetter) => void | Promise<void>>();
  #advisorySubscription: Subscription | null = null;
  #closed = false;

  constructor(parts: JetStreamBusParts) {
    this.url = parts.url;
    this.settings = parts.settings;
    this.#nc = parts.nc;
    this.#jsm = parts.jsm;
    this.#js = parts.js;
    this.#names = parts.names;
    this.#log = parts.log;
    this.#onClose = parts.onClose;
    this.#stores = jetStreamStores({
      nc: parts.nc,
      names: storeNames(parts.namespace),
      heartbeatTtlMs: parts.settings.heartbeatTtlMs,
      log: parts.log,
      ensureOpen: () => this.#ensureOpen(),
    });
    this.cancels = this.#stores.cancels;
    this.runners = this.#stores.runners;
    this.artifacts = this.#stores.artifacts;
  }

  async publishJob(envelope: JobEnvelope): Promise<PublishedJob> {
    this.#ensureOpen();
    const valid = parseJobEnvelope(JSON.parse(JSON.stringify(envelope)));
    try {
      const ack = await this.#js.publish(this.#names.jobSubject(valid.kind, valid.tenantId), encoder.encode(JSON.stringify(valid)), { msgID: valid.jobId });
      return { seq: ack.seq, duplicate: ack.duplicate };
    } catch (error) {
      throw transportError(`publishing job ${valid.jobId}`, error);
    }
  }

  async pullJobs(kind: JobKind, pull: PullJobsOptions): Promise<JobDelivery[]> {
    this.#ensureOpen();
    checkJobKind("pullJobs", kind);
    checkPullOptions(pull);
    try {
      return this.#toDeliveries(await this.#pullMessages(kind, pull));
    } catch (error) {
      if (this.#closed) return [];
      throw transportError(`pulling ${kind} jobs`, error);
    }
  }

  async watchJobs(kinds: readonly JobKind[], handler: JobsReadyHandler): Promise<BusWatch> {
    this.#ensureOpen();
    for (const kind of kinds) checkJobKind("watchJobs", kind);
    // A core subscription on a kind's job subjects sees every job published there (JetStream stores it as well).
    const subs = kinds.map((kind) =>
      this.#nc.subscribe(this.#names.jobFilter(kind), {
        callback: (error) => {
          if (error) return;
          try {
            handler(kind);
          } catch (e) {
            this.#log.warn(`watchJobs handler failed: ${String(e)}`);
          }
        },
      }),
    );
    return this.#track(async () => {
      for (const sub of subs) sub.unsubscribe();
    });
  }

  async publishEvent(jobId: string, event: JobEvent): Promise<{ seq: number }> {
    this.#ensureOpen();
    const subject = this.#names.eventSubject(jobId);
    const valid = parseJobEvent(JSON.parse(JSON.stringify(event)));
    try {
      const ack = await this.#js.publish(subject, encoder.encode(JSON.stringify(valid)));
      return { seq: ack.seq };
    } catch (error) {
      throw transportError(`publishing an event of job ${jobId}`, error);
    }
  }

  async subscribeEvents(subscribe: SubscribeEventsOptions, handler: EventHandler): Promise<EventSubscription> {
    this.#ensureOpen();
    const filter = subscribe.jobId === undefined ? this.#names.eventsWildcard : this.#names.eventSubject(subscribe.jobId);
    const afterSeq = checkAfterSeq(subscribe.afterSeq);
    let messages: ConsumerMessages;
    try {
      messages = await (await this.#orderedEventConsumer(filter, afterSeq)).consume({ expires: EVENT_PULL_EXPIRES_MS });
    } catch (error) {
      throw transportError("subscribing to job events", error);
    }
    const loop = (async () => {
      for await (const message of messages) {
        const delivery = this.#toEventDelivery(message);
        if (!delivery) continue;
        try {
          await handler(delivery);
        } catch (error) {
          this.#log.warn(`event handler failed at seq ${delivery.seq}: ${String(error)}`);
        }
      }
    })().catch((error: unknown) => this.#log.warn(`event subscription ended: ${String(error)}`));
    return this.#track(async () => {
      messages.stop();
      await loop;
    });
  }

  async readEvents(jobId: string, afterSeq?: number): Promise<EventDelivery[]> {
    this.#ensureOpen();
    const subject = this.#names.eventSubject(jobId);
    const after = checkAfterSeq(afterSeq);
    const out: EventDelivery[] = [];
    try {
      const last = await this.#lastEventSeq(subject);
      if (last <= after) return out;
      const messages = await (await this.#orderedEventConsumer(subject, after)).consume();
      for await (const message of messages) {
        const delivery = this.#toEventDelivery(message);
        if (delivery) out.push(delivery);
        if (message.seq >= last || message.info.pending === 0) break;
      }
      messages.stop();
    } catch (error) {
      throw transportError(`reading events of job ${jobId}`, error);
    }
    return out;
  }

  onDeadLetter(handler: (deadLetter: DeadLetter) => void | Promise<void>): () => void {
    this.#deadLetterHandlers.add(handler);
    if (!this.#advisorySubscription && !this.#closed) {
      this.#advisorySubscription = this.#nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${this.#names.jobsStream}.*`, {
        callback: (error, message) => {
          if (error) return;
          this.#handleMaxDeliveries(message.data).catch((e: unknown) => this.#log.warn(`dead-letter handling failed: ${String(e)}`));
        },
      });
    }
    return () => {
      this.#deadLetterHandlers.delete(handler);
    };
  }

  async queueDepth(kind: JobKind): Promise<JobQueueDepth> {
    this.#ensureOpen();
    try {
      const info = await this.#jsm.consumers.info(this.#names.jobsStream, this.#names.jobConsumer(kind));
      return { pending: info.num_pending, inFlight: info.num_ack_pending };
    } catch (error) {
      throw transportError(`reading queue depth of ${kind}`, error);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((s) => s.stop()));
    await this.#stores.stopWatches();
    this.#advisorySubscription?.unsubscribe();
    try {
      await this.#nc.drain();
    } catch {
      await this.#nc.close().catch(() => {});
    }
    await this.#onClose?.();
  }

  #ensureOpen(): void {
    if (this.#closed) throw new BusClosedError();
  }

  /** A subscription or watch that `close()` stops too. */
  #track(stop: () => Promise<void>): BusWatch {
    const tracked = {
      stop: async () => {
        this.#subscriptions.delete(tracked);
        await stop();
      },
    };
    this.#subscriptions.add(tracked);
    return tracked;
  }

  async #jobConsumer(kind: JobKind): Promise<Consumer> {
    let consumer = this.#consumers.get(kind);
    if (!consumer) {
      consumer = await this.#js.consumers.get(this.#names.jobsStream, this.#names.jobConsumer(kind));
      this.#consumers.set(kind, consumer);
    }
    return consumer;
  }

  /** Messages of one kind: ready now (`expiresMs` 0, a no-wait pull), or waited for up to `expiresMs`. */
  async #pullMessages(kind: JobKind, pull: PullJobsOptions): Promise<JobMessage[]> {
    if (pull.expiresMs === 0) return pullReady(this.#nc, this.#names.jobsStream, this.#names.jobConsumer(kind), pull.max, NO_WAIT_PULL_TIMEOUT_MS);
    const fetched: JobMessage[] = [];
    for await (const message of await (await this.#jobConsumer(kind)).fetch({ max_messages: pull.max, expires: pull.expiresMs })) {
      fetched.push(fromJsMsg(message));
    }
    return fetched;
  }

  /** The deliveries of pulled messages; a message that is not a valid envelope is terminated. */
  #toDeliveries(messages: Iterable<JobMessage>): JobDelivery[] {
    const deliveries: JobDelivery[] = [];
    for (const message of messages) {
      let envelope: JobEnvelope;
      try {
        envelope = parseJobEnvelope(message.json());
      } catch (error) {
        this.#log.warn(`terminating invalid job message at ${this.#names.jobsStream} seq ${message.seq}: ${String(error)}`);
        message.term();
        continue;
      }
      deliveries.push(toDelivery(message, envelope));
    }
    return deliveries;
  }

  #toEventDelivery(message: JsMsg): EventDelivery | null {
    const jobId = this.#names.jobIdOfEventSubject(message.subject);
    if (jobId === null) return null;
    try {
      const event = parseJobEvent(JSON.parse(new TextDecoder().decode(message.data)));
      return { seq: message.seq, jobId, event, time: message.time };
    } catch (error) {
      this.#log.warn(`skipping invalid event at ${this.#names.eventsStream} seq ${message.seq}: ${String(error)}`);
      return null;
    }
  }

  /** A max-deliveries advisory: copies the job to JOBS_DLQ, deletes it from JOBS and tells the handlers. */
  async #handleMaxDeliveries(data: Uint8Array): Promise<void> {
    const advisory = JSON.parse(new TextDecoder().decode(data)) as { stream_seq?: number; deliveries?: number };
    const seq = advisory.stream_seq;
    if (typeof seq !== "number") return;
    const { jobsStream } = this.#names;
    const stored = await this.#jsm.streams.getMessage(jobsStream, { seq }).catch(() => null);
    if (!stored) return; // another instance handled it
    let envelope: JobEnvelope;
    try {
      envelope = parseJobEnvelope(stored.json());
    } catch (error) {
      this.#log.warn(`dead job at ${jobsStream} seq ${seq} is not a valid envelope; deleting it: ${String(error)}`);
      await this.#jsm.streams.deleteMessage(jobsStream, seq).catch(() => false);
      return;
    }
    await this.#js.publish(this.#names.dlqSubject(envelope.kind, envelope.tenantId), stored.data, { msgID: envelope.jobId });
    await this.#jsm.streams.deleteMessage(jobsStream, seq).catch(() => false);
    const letter: DeadLetter = { envelope, seq, deliveries: advisory.deliveries ?? this.settings.maxDeliver };
    this.#log.warn(`job ${envelope.jobId} (${envelope.kind}) dead-lettered after ${letter.deliveries} deliveries`);
    for (const handler of this.#deadLetterHandlers) {
      try {
        await handler(letter);
      } catch (error) {
        this.#log.warn(`dead-letter handler failed for job ${envelope.jobId}: ${String(error)}`);
      }
    }
  }

  async #lastEventSeq(subject: string): Promise<number> {
    try {
      const last = await this.#jsm.streams.getMessage(this.#names.eventsStream, { last_by_subj: subject });
      return last?.seq ?? 0;
    } catch (error) {
      if (isNotFound(error)) return 0;
      throw error;
    }
  }

  #orderedEventConsumer(filter: string, afterSeq: number): Promise<Consumer> {
    return this.#js.consumers.get(this.#names.eventsStream, {
      filter_subjects: filter, // a string maps to filter_subject (nats-server 2.9 has no filter_subjects)
      ...(afterSeq > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: afterSeq + 1 } : { deliver_policy: DeliverPolicy.All }),
    });
  }
}

function toDelivery(message: JobMessage, envelope: JobEnvelope): JobDelivery {
  return {
    envelope,
    subject: message.subject,
    seq: message.seq,
    deliveryCount: message.deliveryCount,
    async ack() {
      try {
        // a repeated ack is a no-op, as in the in-process bus
        await message.ackAck();
      } catch (error) {
        throw transportError(`ack of job ${envelope.jobId}`, error);
      }
    },
    nak: (delayMs?: number) => message.nak(delayMs),
    working: () => message.working(),
    term: () => message.term(),
  };
}
