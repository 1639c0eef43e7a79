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

export function serveBusOverIpc(bus: JobBus, endpoint: IpcEndpoint, options: { log?: BusLogger } = {}): IpcBusServer {
  const log = options.log ?? silent;
  let closed = false;
  let markClosed!: () => void;
  const closedPromise = new Promise<void>((resolve) => {
    markClosed = resolve;
  });
  let nextHandle = 1;
  let nextPushId = 1;
  let nextStreamId = 1;
  const deliveries = new Map<number, JobDelivery>();
  const subscriptions = new Map<number, BusWatch>();
  const pushAcks = new Map<number, () => void>();
  const uploads = new Map<number, Upload>();
  const downloads = new Map<number, AsyncIterator<Uint8Array>>();

  const send = (message: ServerMessage) => sendMessage(endpoint, message).catch(() => undefined);
  const push = (stream: number, value: unknown) => void send({ parmBus: PROTOCOL_TAG, t: "push", stream, value });
  /** Pushes and resolves when the client acknowledged (or went away). */
  const pushAndWait = (stream: number, value: unknown) =>
    new Promise<void>((resolve) => {
      if (closed) return resolve();
      const pushId = nextPushId++;
      pushAcks.set(pushId, resolve);
      void send({ parmBus: PROTOCOL_TAG, t: "push", stream, value, pushId });
    });

  const toWire = (delivery: JobDelivery): WireDelivery => {
    const handle = nextHandle++;
    deliveries.set(handle, delivery);
    return { handle, envelope: delivery.envelope, subject: delivery.subject, seq: delivery.seq, deliveryCount: delivery.deliveryCount };
  };
  const deliveryOf = (handle: unknown): JobDelivery | undefined => deliveries.get(handle as number);

  const addSubscription = (stream: unknown, subscription: BusWatch) => {
    if (closed) {
      void subscription.stop();
      return;
    }
    subscriptions.set(stream as number, subscription);
  };

  const release = async () => {
    if (closed) return;
    closed = true;
    endpoint.off("message", onMessage);
    endpoint.off("disconnect", onDisconnect);
    for (const resolve of pushAcks.values()) resolve();
    pushAcks.clear();
    const stops = [...subscriptions.values()].map((s) => s.stop().catch(() => undefined));
    subscriptions.clear();
    for (const upload of uploads.values()) upload.queue.fail(new Error("the client went away during the upload"));
    const uploadsDone = [...uploads.values()].map((u) => u.done.catch(() => undefined));
    uploads.clear();
    const downloadsDone = [...downloads.values()].map((d) => Promise.resolve(d.return?.()).catch(() => undefined));
    downloads.clear();
    deliveries.clear();
    await Promise.all([...stops, ...uploadsDone, ...downloadsDone]);
    markClosed();
  };

  const calls: Record<CallMessage["op"], (args: readonly unknown[]) => Promise<unknown>> = {
    hello: async (): Promise<HelloValue> => ({ kind: bus.kind, settings: bus.settings, probe: new Uint8Array([1, 2, 3]) }),
    publishJob: ([envelope]) => bus.publishJob(envelope as JobEnvelope),
    pullJobs: async ([kind, pull]) => {
      const got = await bus.pullJobs(kind as JobKind, pull as PullJobsOptions);
      if (closed) {
        for (const delivery of got) delivery.nak();
        return [];
      }
      return got.map(toWire);
    },
    watchJobs: async ([stream, kinds]) => {
      addSubscription(stream, await bus.watchJobs(kinds as JobKind[], (kind) => push(stream as number, kind)));
      return null;
    },
    ack: async ([handle]) => {
      const delivery = deliveryOf(handle);
      deliveries.delete(handle as number);
      await delivery?.ack();
      return null;
    },
    publishEvent: ([jobId, event]) => bus.publishEvent(jobId as string, event as JobEvent),
    readEvents: ([jobId, afterSeq]) => bus.readEvents(jobId as string, afterSeq as number | undefined),
    subscribeEvents: async ([stream, subscribe]) => {
      const subscription = await bus.subscribeEvents(subscribe as SubscribeEventsOptions, (delivery: EventDelivery) => pushAndWait(stream as number, delivery));
      addSubscription(stream, subscription);
      return null;
    },
    unsubscribe: async ([stream]) => {
      const subscription = subscriptions.get(stream as number);
      subscriptions.delete(stream as number);
      await subscription?.stop();
      return null;
    },
    queueDepth: ([kind]) => bus.queueDepth(kind as JobKind),
    "cancels.request": async ([jobId]) => bus.cancels.request(jobId as string),
    "cancels.isRequested": ([jobId]) => bus.cancels.isRequested(jobId as string),
    "cancels.watch": async ([stream]) => {
      addSubscription(stream, await bus.cancels.watch((jobId) => push(stream as number, jobId)));
      return null;
    },
    "runners.put": ([runnerId, heartbeat]) => bus.runners.put(runnerId as string, heartbeat as RunnerHeartbeat),
    "runners.delete": ([runnerId]) => bus.runners.delete(runnerId as string),
    "runners.list": () => bus.runners.list(),
    "runners.watch": async ([stream]) => {
      addSubscription(stream, await bus.runners.watch((change) => push(stream as number, change)));
      return null;
    },
    "artifacts.putOpen": async ([key]) => {
      const queue = new ChunkQueue();
      const done = bus.artifacts.put(key as string, queue);
      done.catch(() => undefined); // reported by putChunk / putEnd
      const id = nextStreamId++;
      uploads.set(id, { queue, done });
      return id;
    },
    "artifacts.putChunk": async ([id, chunk]) => {
      const upload = uploads.get(id as number);
      if (!upload) throw new BusArgumentError(`no upload ${String(id)}`);
      if (!(chunk instanceof Uint8Array)) throw new BusArgumentError("an upload chunk must be a Uint8Array (IPC serialization \"advanced\")");
      await Promise.race([
        upload.queue.push(chunk),
        upload.done.then(() => {
          throw new Error("the store finished the upload before its end");
        }),
      ]);
      return null;
    },
    "artifacts.putEnd": async ([id]) => {
      const upload = uploads.get(id as number);
      if (!upload) throw new BusArgumentError(`no upload ${String(id)}`);
      uploads.delete(id as number);
      upload.queue.end();
      return upload.done;
    },
    "artifacts.getOpen": async ([key]) => {
      const stream = await bus.artifacts.get(key as string);
      if (stream === null) return null;
      const id = nextStreamId++;
      downloads.set(id, stream[Symbol.asyncIterator]());
      return id;
    },
    "artifacts.getNext": async ([id]) => {
      const iterator = downloads.get(id as number);
      if (!iterator) throw new BusArgumentError(`no download ${String(id)}`);
      try {
        const next = await iterator.next();
        if (next.done) downloads.delete(id as number);
        return next.done ? { done: true } : { done: false, chunk: next.value };
      } catch (error) {
        downloads.delete(id as number);
        throw error;
      }
    },
    "artifacts.info": ([key]) => bus.artifacts.info(key as string),
    "artifacts.delete": ([key]) => bus.artifacts.delete(key as string),
    "artifacts.list": ([prefix]) => bus.artifacts.list(prefix as string | undefined),
    close: async () => {
      await release();
      return null;
    },
  };

  const casts: Record<CastMessage["op"], (args: readonly unknown[]) => void> = {
    nak: ([handle, delayMs]) => {
      const delivery = deliveryOf(handle);
      deliveries.delete(handle as number);
      delivery?.nak(delayMs as number | undefined);
    },
    working: ([handle]) => deliveryOf(handle)?.working(),
    term: ([handle]) => {
      const delivery = deliveryOf(handle);
      deliveries.delete(handle as number);
      delivery?.term();
    },
    onDeadLetter: ([stream]) => {
      const unregister = bus.onDeadLetter((letter) => push(stream as number, letter));
      addSubscription(stream, { stop: async () => unregister() });
    },
    unsubscribe: ([stream]) => {
      const subscription = subscriptions.get(stream as number);
      subscriptions.delete(stream as number);
      void subscription?.stop().catch(() => undefined);
    },
    pushed: ([pushId]) => {
      const resolve = pushAcks.get(pushId as number);
      pushAcks.delete(pushId as number);
      resolve?.();
    },
    "artifacts.putAbort": ([id, reason]) => {
      const upload = uploads.get(id as number);
      uploads.delete(id as number);
      upload?.queue.fail(new Error(`the client abandoned the upload: ${String(reason)}`));
    },
    "artifacts.getClose": ([id]) => {
      const iterator = downloads.get(id as number);
      downloads.delete(id as number);
      void Promise.resolve(iterator?.return?.()).catch(() => undefined);
    },
  };

  const onCall = async (message: CallMessage) => {
    const handler = calls[message.op];
    try {
      if (!handler) throw new BusArgumentError(`unknown bus operation ${JSON.stringify(message.op)}`);
      if (closed && message.op !== "close") throw new BusArgumentError("this IPC bus session is closed");
      const value = await handler(message.args ?? []);
      await send({ parmBus: PROTOCOL_TAG, t: "result", id: message.id, ok: true, value: value ?? null });
    } catch (error) {
      await send({ parmBus: PROTOCOL_TAG, t: "result", id: message.id, ok: false, error: serializeError(error) });
    }
  };

  const onMessage = (message: unknown) => {
    if (!isProtocolMessage(message)) return;
    if (message.t === "call") {
      void onCall(message as CallMessage);
    } else if (message.t === "cast" && !closed) {
      const cast = message as CastMessage;
      try {
        casts[cast.op]?.(cast.args ?? []);
      } catch (error) {
        log.warn(`IPC bus: ${cast.op} failed: ${String(error)}`);
      }
    }
  };
  const onDisconnect = () => void release();
  endpoint.on("message", onMessage);
  endpoint.on("disconnect", onDisconnect);

  return {
    close: release,
    closed: closedPromise,
  };
}
