/**
 * @module bus/ipc-bus-server — serves a bus (the api's in-process bus) to one client process over its IPC channel
 * (bus/ipc-protocol.ts): the embedded runner pulls jobs, acks / naks / calls working(), publishes events, watches
 * cancellations, writes heartbeats and streams artifacts through it.
 *
 * Contracts:
 * - Deliveries handed to the client stay in flight until the client settles them, like messages of a JetStream
 *   connection: a client that goes away leaves them to the ack wait (then they are redelivered). A pull that
 *   returns after the client left naks what it got at once.
 * - Event pushes wait for the client's acknowledgement before the next one (one handler call at a time).
 * - Artifact uploads are streamed: a chunk is answered once the store took it, so at most one chunk per upload is
 *   buffered here; downloads answer one chunk per request.
 * - `close()` (or the channel closing, or the client's `close`) stops the client's subscriptions and watches, aborts
 *   its unfinished uploads and releases its downloads. The bus itself stays open (its owner closes it).
 */
import {
  PROTOCOL_TAG,
  isProtocolMessage,
  sendMessage,
  serializeError,
  type CallMessage,
  type CastMessage,
  type HelloValue,
  type IpcEndpoint,
  type ServerMessage,
  type WireDelivery,
} from "./ipc-protocol.ts";
import {
  BusArgumentError,
  type ArtifactBucket,
  type BusLogger,
  type BusWatch,
  type EventDelivery,
  type JobBus,
  type JobDelivery,
  type PullJobsOptions,
  type SubscribeEventsOptions,
} from "./types.ts";
import type { JobEnvelope, JobEvent, JobKind, RunnerHeartbeat } from "../contracts/index.ts";

export interface IpcBusServer {
  /** Releases what the client holds (see the module comment) and stops listening. */
  close(): Promise<void>;
  /** Resolves once the server was closed (by `close`, the client, or the channel). */
  readonly closed: Promise<void>;
}

const silent: BusLogger = { info: () => {}, warn: () => {} };

/** A stream of chunks whose `push` resolves once the consumer took the chunk. */
class ChunkQueue implements AsyncIterable<Uint8Array> {
  private readonly items: { chunk: Uint8Array; taken: () => void }[] = [];
  private waiter: { resolve: (r: IteratorResult<Uint8Array>) => void; reject: (e: Error) => void } | null = null;
  private ended = false;
  private failure: Error | null = null;

  push(chunk: Uint8Array): Promise<void> {
    return new Promise((taken) => {
      if (this.waiter) {
        const waiter = this.waiter;
        this.waiter = null;
        waiter.resolve({ done: false, value: chunk });
        taken();
      } else {
        this.items.push({ chunk, taken });
      }
    });
  }

  end(): void {
    this.ended = true;
    this.waiter?.resolve({ done: true, value: undefined });
    this.waiter = null;
  }

  fail(error: Error): void {
    this.failure = error;
    this.waiter?.reject(error);
    this.waiter = null;
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => {
        const item = this.items.shift();
        if (item) {
          item.taken();
          return Promise.resolve({ done: false, value: item.chunk });
        }
        if (this.failure) return Promise.reject(this.failure);
        if (this.ended) return Promise.resolve({ done: true, value: undefined });
        return new Promise((resolve, reject) => {
          this.waiter = { resolve, reject };
        });
      },
    };
  }
}

interface Upload {
  readonly queue: ChunkQueue;
  readonly done: Promise<unknown>;
}

type CallHandler = (args: readonly unknown[]) => Promise<unknown>;
type CallTable = Record<CallMessage["op"], CallHandler>;
type CastTable = Record<CastMessage["op"], (args: readonly unknown[]) => void>;

/** Serves `bus` to the client at the other end of `endpoint` until either side closes (see the module comment). */
export function serveBusOverIpc(bus: JobBus, endpoint: IpcEndpoint, options: { log?: BusLogger } = {}): IpcBusServer {
  return new IpcBusSession(bus, endpoint, options.log ?? silent);
}

/** The deliveries the client holds, by the handle it names them with. */
class DeliveryHandles {
  readonly #deliveries = new Map<number, JobDelivery>();
  #nextHandle = 1;

  toWire(delivery: JobDelivery): WireDelivery {
    const handle = this.#nextHandle++;
    this.#deliveries.set(handle, delivery);
    return { handle, envelope: delivery.envelope, subject: delivery.subject, seq: delivery.seq, deliveryCount: delivery.deliveryCount };
  }

  get(handle: unknown): JobDelivery | undefined {
    return this.#deliveries.get(handle as number);
  }

  /** The delivery, which the client no longer holds (it settled it). */
  take(handle: unknown): JobDelivery | undefined {
    const delivery = this.get(handle);
    this.#deliveries.delete(handle as number);
    return delivery;
  }

  clear(): void {
    this.#deliveries.clear();
  }
}

/** The client's unfinished uploads and downloads, by id. */
class ArtifactTransfers {
  readonly #artifacts: ArtifactBucket;
  readonly #uploads = new Map<number, Upload>();
  readonly #downloads = new Map<number, AsyncIterator<Uint8Array>>();
  #nextId = 1;

  constructor(artifacts: ArtifactBucket) {
    this.#artifacts = artifacts;
  }

  /** Starts storing `key` from a queue the client's chunks go into; returns the upload's id. */
  putOpen(key: string): number {
    const queue = new ChunkQueue();
    const done = this.#artifacts.put(key, queue);
    done.catch(() => undefined); // reported by putChunk / putEnd
    const id = this.#nextId++;
    this.#uploads.set(id, { queue, done });
    return id;
  }

  /** Resolves once the store took the chunk. */
  async putChunk(id: unknown, chunk: unknown): Promise<void> {
    const upload = this.#upload(id);
    if (!(chunk instanceof Uint8Array)) throw new BusArgumentError("an upload chunk must be a Uint8Array (IPC serialization \"advanced\")");
    await Promise.race([
      upload.queue.push(chunk),
      upload.done.then(() => {
        throw new Error("the store finished the upload before its end");
      }),
    ]);
  }

  putEnd(id: unknown): Promise<unknown> {
    const upload = this.#upload(id);
    this.#uploads.delete(id as number);
    upload.queue.end();
    return upload.done;
  }

  putAbort(id: unknown, reason: unknown): void {
    const upload = this.#uploads.get(id as number);
    this.#uploads.delete(id as number);
    upload?.queue.fail(new Error(`the client abandoned the upload: ${String(reason)}`));
  }

  /** The download's id, or null when there is no such object. */
  async getOpen(key: string): Promise<number | null> {
    const stream = await this.#artifacts.get(key);
    if (stream === null) return null;
    const id = this.#nextId++;
    this.#downloads.set(id, stream[Symbol.asyncIterator]());
    return id;
  }

  async getNext(id: unknown): Promise<{ done: true } | { done: false; chunk: Uint8Array }> {
    const iterator = this.#downloads.get(id as number);
    if (!iterator) throw new BusArgumentError(`no download ${String(id)}`);
    try {
      const next = await iterator.next();
      if (next.done) this.#downloads.delete(id as number);
      return next.done ? { done: true } : { done: false, chunk: next.value };
    } catch (error) {
      this.#downloads.delete(id as number);
      throw error;
    }
  }

  getClose(id: unknown): void {
    const iterator = this.#downloads.get(id as number);
    this.#downloads.delete(id as number);
    void Promise.resolve(iterator?.return?.()).catch(() => undefined);
  }

  /** Aborts the unfinished uploads and releases the downloads; resolves when all of them ended. */
  releaseAll(): Promise<unknown> {
    for (const upload of this.#uploads.values()) upload.queue.fail(new Error("the client went away during the upload"));
    const uploadsDone = [...this.#uploads.values()].map((u) => u.done.catch(() => undefined));
    this.#uploads.clear();
    const downloadsDone = [...this.#downloads.values()].map((d) => Promise.resolve(d.return?.()).catch(() => undefined));
    this.#downloads.clear();
    return Promise.all([...uploadsDone, ...downloadsDone]);
  }

  #upload(id: unknown): Upload {
    const upload = this.#uploads.get(id as number);
    if (!upload) throw new BusArgumentError(`no upload ${String(id)}`);
    return upload;
  }
}

/** One client's session with the served bus: its calls and casts, and what it holds (see the module comment). */
class IpcBusSession implements IpcBusServer {
  readonly closed: Promise<void>;
  readonly #bus: JobBus;
  readonly #endpoint: IpcEndpoint;
  readonly #log: BusLogger;
  readonly #deliveries = new DeliveryHandles();
  readonly #transfers: ArtifactTransfers;
  readonly #subscriptions = new Map<number, BusWatch>();
  readonly #pushAcks = new Map<number, () => void>();
  readonly #calls: CallTable;
  readonly #casts: CastTable;
  #markClosed!: () => void;
  #nextPushId = 1;
  #released = false;

  constructor(bus: JobBus, endpoint: IpcEndpoint, log: BusLogger) {
    this.#bus = bus;
    this.#endpoint = endpoint;
    this.#log = log;
    this.closed = new Promise<void>((resolve) => {
      this.#markClosed = resolve;
    });
    this.#transfers = new ArtifactTransfers(bus.artifacts);
    this.#calls = { ...this.#jobCalls(), ...this.#eventCalls(), ...this.#facetCalls(), ...this.#artifactCalls(), close: async () => this.close().then(() => null) };
    this.#casts = this.#castTable();
    endpoint.on("message", this.#onMessage);
    endpoint.on("disconnect", this.#onDisconnect);
  }

  async close(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#endpoint.off("message", this.#onMessage);
    this.#endpoint.off("disconnect", this.#onDisconnect);
    for (const resolve of this.#pushAcks.values()) resolve();
    this.#pushAcks.clear();
    const stops = [...this.#subscriptions.values()].map((s) => s.stop().catch(() => undefined));
    this.#subscriptions.clear();
    const transfersDone = this.#transfers.releaseAll();
    this.#deliveries.clear();
    await Promise.all([...stops, transfersDone]);
    this.#markClosed();
  }

  #jobCalls() {
    const bus = this.#bus;
    return {
      hello: async (): Promise<HelloValue> => ({ kind: bus.kind, settings: bus.settings, probe: new Uint8Array([1, 2, 3]) }),
      publishJob: ([envelope]) => bus.publishJob(envelope as JobEnvelope),
      pullJobs: ([kind, pull]) => this.#pullJobs(kind as JobKind, pull as PullJobsOptions),
      watchJobs: async ([stream, kinds]) => {
        this.#addSubscription(stream, await bus.watchJobs(kinds as JobKind[], (kind) => this.#push(stream as number, kind)));
        return null;
      },
      ack: async ([handle]) => {
        await this.#deliveries.take(handle)?.ack();
        return null;
      },
      queueDepth: ([kind]) => bus.queueDepth(kind as JobKind),
    } satisfies Partial<CallTable>;
  }

  #eventCalls() {
    const bus = this.#bus;
    return {
      publishEvent: ([jobId, event]) => bus.publishEvent(jobId as string, event as JobEvent),
      readEvents: ([jobId, afterSeq]) => bus.readEvents(jobId as string, afterSeq as number | undefined),
      subscribeEvents: async ([stream, subscribe]) => {
        const subscription = await bus.subscribeEvents(subscribe as SubscribeEventsOptions, (delivery: EventDelivery) => this.#pushAndWait(stream as number, delivery));
        this.#addSubscription(stream, subscription);
        return null;
      },
      unsubscribe: async ([stream]) => {
        await this.#takeSubscription(stream)?.stop();
        return null;
      },
    } satisfies Partial<CallTable>;
  }

  #facetCalls() {
    const { cancels, runners } = this.#bus;
    return {
      "cancels.request": async ([jobId]) => cancels.request(jobId as string),
      "cancels.isRequested": ([jobId]) => cancels.isRequested(jobId as string),
      "cancels.watch": async ([stream]) => {
        this.#addSubscription(stream, await cancels.watch((jobId) => this.#push(stream as number, jobId)));
        return null;
      },
      "runners.put": ([runnerId, heartbeat]) => runners.put(runnerId as string, heartbeat as RunnerHeartbeat),
      "runners.delete": ([runnerId]) => runners.delete(runnerId as string),
      "runners.list": () => runners.list(),
      "runners.watch": async ([stream]) => {
        this.#addSubscription(stream, await runners.watch((change) => this.#push(stream as number, change)));
        return null;
      },
    } satisfies Partial<CallTable>;
  }

  #artifactCalls() {
    const artifacts = this.#bus.artifacts;
    const transfers = this.#transfers;
    return {
      "artifacts.putOpen": async ([key]) => transfers.putOpen(key as string),
      "artifacts.putChunk": async ([id, chunk]) => transfers.putChunk(id, chunk).then(() => null),
      "artifacts.putEnd": async ([id]) => transfers.putEnd(id),
      "artifacts.getOpen": ([key]) => transfers.getOpen(key as string),
      "artifacts.getNext": ([id]) => transfers.getNext(id),
      "artifacts.info": ([key]) => artifacts.info(key as string),
      "artifacts.delete": ([key]) => artifacts.delete(key as string),
      "artifacts.list": ([prefix]) => artifacts.list(prefix as string | undefined),
    } satisfies Partial<CallTable>;
  }

  #castTable(): CastTable {
    return {
      nak: ([handle, delayMs]) => this.#deliveries.take(handle)?.nak(delayMs as number | undefined),
      working: ([handle]) => this.#deliveries.get(handle)?.working(),
      term: ([handle]) => this.#deliveries.take(handle)?.term(),
      onDeadLetter: ([stream]) => {
        const unregister = this.#bus.onDeadLetter((letter) => this.#push(stream as number, letter));
        this.#addSubscription(stream, { stop: async () => unregister() });
      },
      unsubscribe: ([stream]) => void this.#takeSubscription(stream)?.stop().catch(() => undefined),
      pushed: ([pushId]) => {
        const resolve = this.#pushAcks.get(pushId as number);
        this.#pushAcks.delete(pushId as number);
        resolve?.();
      },
      "artifacts.putAbort": ([id, reason]) => this.#transfers.putAbort(id, reason),
      "artifacts.getClose": ([id]) => this.#transfers.getClose(id),
    };
  }

  /** A pull that returns after the client left naks what it got at once. */
  async #pullJobs(kind: JobKind, pull: PullJobsOptions): Promise<WireDelivery[]> {
    const got = await this.#bus.pullJobs(kind, pull);
    if (this.#released) {
      for (const delivery of got) delivery.nak();
      return [];
    }
    return got.map((delivery) => this.#deliveries.toWire(delivery));
  }

  #addSubscription(stream: unknown, subscription: BusWatch): void {
    if (this.#released) {
      void subscription.stop();
      return;
    }
    this.#subscriptions.set(stream as number, subscription);
  }

  #takeSubscription(stream: unknown): BusWatch | undefined {
    const subscription = this.#subscriptions.get(stream as number);
    this.#subscriptions.delete(stream as number);
    return subscription;
  }

  #send(message: ServerMessage): Promise<void> {
    return sendMessage(this.#endpoint, message).catch(() => undefined);
  }

  #push(stream: number, value: unknown): void {
    void this.#send({ parmBus: PROTOCOL_TAG, t: "push", stream, value });
  }

  /** Pushes and resolves when the client acknowledged (or went away). */
  #pushAndWait(stream: number, value: unknown): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.#released) return resolve();
      const pushId = this.#nextPushId++;
      this.#pushAcks.set(pushId, resolve);
      void this.#send({ parmBus: PROTOCOL_TAG, t: "push", stream, value, pushId });
    });
  }

  async #onCall(message: CallMessage): Promise<void> {
    const handler = this.#calls[message.op];
    try {
      if (!handler) throw new BusArgumentError(`unknown bus operation ${JSON.stringify(message.op)}`);
      if (this.#released && message.op !== "close") throw new BusArgumentError("this IPC bus session is closed");
      const value = await handler(message.args ?? []);
      await this.#send({ parmBus: PROTOCOL_TAG, t: "result", id: message.id, ok: true, value: value ?? null });
    } catch (error) {
      await this.#send({ parmBus: PROTOCOL_TAG, t: "result", id: message.id, ok: false, error: serializeError(error) });
    }
  }

  #onCast(cast: CastMessage): void {
    try {
      this.#casts[cast.op]?.(cast.args ?? []);
    } catch (error) {
      this.#log.warn(`IPC bus: ${cast.op} failed: ${String(error)}`);
    }
  }

  readonly #onMessage = (message: unknown): void => {
    if (!isProtocolMessage(message)) return;
    if (message.t === "call") void this.#onCall(message as CallMessage);
    else if (message.t === "cast" && !this.#released) this.#onCast(message as CastMessage);
  };

  readonly #onDisconnect = (): void => void this.close();
}
