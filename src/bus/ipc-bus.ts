/**
 * @module bus/ipc-bus — the third adapter of the bus port: a client of another process's bus over the Node IPC
 * channel (bus/ipc-protocol.ts; the other end is `serveBusOverIpc`). `npm start` with the in-process bus runs its
 * embedded runner as a child process whose bus is this client of the api's in-process bus.
 *
 * Semantics are the served bus's: jobs pulled with ack / nak / working() / term, events published and replayed,
 * cancellation watches, heartbeats, artifacts streamed in chunks of at most 1 MiB (one in flight per transfer). Bad
 * arguments are refused here with the same typed errors as the other adapters; a lost channel or a closed served
 * bus is BusTransportError; after `close()` every call is BusClosedError. `close()` resolves once the server has
 * handled everything sent before it (so a nak right before it is not lost when the process exits).
 */
import { parseJobEnvelope, parseJobEvent, type JobEnvelope, type JobKind } from "../contracts/index.ts";
import {
  PROTOCOL_TAG,
  deserializeError,
  isProtocolMessage,
  sendMessage,
  type CastMessage,
  type HelloValue,
  type IpcEndpoint,
  type Op,
  type PushMessage,
  type ResultMessage,
  type WireDelivery,
} from "./ipc-protocol.ts";
import { ARTIFACT_CHUNK_BYTES } from "./in-process-stores.ts";
import { busNames } from "./names.ts";
import {
  BusArgumentError,
  BusClosedError,
  BusTransportError,
  DEFAULT_JOB_QUEUE_SETTINGS,
  artifactChunks,
  checkAfterSeq,
  checkArtifactKey,
  checkJobKind,
  checkKeyToken,
  checkPullOptions,
  type ArtifactBucket,
  type ArtifactInfo,
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
  type PublishedJob,
  type RunnerHeartbeatChange,
  type RunnerHeartbeatEntry,
  type RunnerHeartbeats,
  type StoredArtifact,
} from "./types.ts";

export interface IpcBusOptions {
  readonly log?: BusLogger;
  /** How long to wait for the served bus to answer `hello` (default 10 000 ms). */
  readonly helloTimeoutMs?: number;
  /** How long `close()` waits for the server to confirm (default 5000 ms). */
  readonly closeTimeoutMs?: number;
}

const silent: BusLogger = { info: () => {}, warn: () => {} };

/** Pieces of at most ARTIFACT_CHUNK_BYTES. */
function* slices(chunk: Uint8Array): Generator<Uint8Array> {
  if (chunk.byteLength <= ARTIFACT_CHUNK_BYTES) {
    yield chunk;
    return;
  }
  for (let offset = 0; offset < chunk.byteLength; offset += ARTIFACT_CHUNK_BYTES) {
    yield chunk.subarray(offset, Math.min(chunk.byteLength, offset + ARTIFACT_CHUNK_BYTES));
  }
}

/** Connects to the bus served at the other end of `endpoint` (e.g. `ipcEndpoint(process)` in a child). */
export async function connectIpcBus(endpoint: IpcEndpoint, options: IpcBusOptions = {}): Promise<JobBus> {
  const log = options.log ?? silent;
  const names = busNames();
  let nextId = 1;
  let nextStream = 1;
  let closed = false;
  let lost: BusTransportError | null = null;
  const pending = new Map<number, { op: Op; resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  const streams = new Map<number, (value: unknown, pushId: number | undefined) => void>();

  const onMessage = (message: unknown) => {
    if (!isProtocolMessage(message)) return;
    if (message.t === "result") {
      const result = message as ResultMessage;
      const call = pending.get(result.id);
      if (!call) return;
      pending.delete(result.id);
      if (result.ok) call.resolve(result.value);
      else call.reject(deserializeError(result.error, call.op));
    } else if (message.t === "push") {
      const pushed = message as PushMessage;
      const handler = streams.get(pushed.stream);
      if (handler) handler(pushed.value, pushed.pushId);
      else if (pushed.pushId !== undefined) cast("pushed", [pushed.pushId]);
    }
  };
  const onDisconnect = () => {
    lost = new BusTransportError("the IPC channel to the bus's process closed");
    for (const call of pending.values()) call.reject(lost);
    pending.clear();
  };
  endpoint.on("message", onMessage);
  endpoint.on("disconnect", onDisconnect);

  const ensureOpen = () => {
    if (closed) throw new BusClosedError();
    if (lost) throw lost;
  };
  /** Sends a call and resolves with its result (no ensureOpen: `close` uses it too). */
  const rawCall = <T>(op: Op, args: readonly unknown[]): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (lost) return reject(lost);
      const id = nextId++;
      pending.set(id, { op, resolve: resolve as (value: unknown) => void, reject });
      sendMessage(endpoint, { parmBus: PROTOCOL_TAG, t: "call", id, op, args }).catch((error: unknown) => {
        pending.delete(id);
        reject(error as Error);
      });
    });
  const call = async <T>(op: Op, args: readonly unknown[] = []): Promise<T> => {
    ensureOpen();
    return rawCall<T>(op, args);
  };
  function cast(op: CastMessage["op"], args: readonly unknown[]): void {
    if (lost) return;
    void sendMessage(endpoint, { parmBus: PROTOCOL_TAG, t: "cast", op, args }).catch(() => undefined);
  }

  // ---- handshake --------------------------------------------------------------------------------------------
  // A server that is still starting may miss a message: `hello` is repeated every 250 ms until one is answered.
  let hello: HelloValue;
  try {
    const timeoutMs = options.helloTimeoutMs ?? 10_000;
    const timers: NodeJS.Timeout[] = [];
    hello = await new Promise<HelloValue>((resolve, reject) => {
      const attempt = () => rawCall<HelloValue>("hello", []).then(resolve, reject);
      attempt();
      timers.push(setInterval(attempt, 250));
      timers.push(setTimeout(() => reject(new BusTransportError(`no bus answered over the IPC channel within ${timeoutMs} ms`)), timeoutMs));
    }).finally(() => {
      for (const timer of timers) clearTimeout(timer);
      for (const [id, waiting] of pending) if (waiting.op === "hello") pending.delete(id);
    });
  } catch (error) {
    endpoint.off("message", onMessage);
    endpoint.off("disconnect", onDisconnect);
    throw error;
  }
  if (!(hello.probe instanceof Uint8Array)) {
    endpoint.off("message", onMessage);
    endpoint.off("disconnect", onDisconnect);
    throw new BusArgumentError('the IPC channel does not carry binary data: spawn the process with serialization "advanced"');
  }
  const settings: JobQueueSettings = { ...DEFAULT_JOB_QUEUE_SETTINGS, ...(hello.settings as Partial<JobQueueSettings>) };
  log.info(`job bus: over IPC to the ${hello.kind} bus of the parent process`);

  /** Registers a push stream; the returned id goes in the call that starts it. */
  const openStream = (handler: (value: unknown, pushId: number | undefined) => void): number => {
    const stream = nextStream++;
    streams.set(stream, handler);
    return stream;
  };
  const watchStream = async (op: Op, handler: (value: unknown) => void, args: readonly unknown[] = []): Promise<BusWatch> => {
    ensureOpen();
    let stopped = false;
    const stream = openStream((value) => {
      if (stopped) return;
      try {
        handler(value);
      } catch (error) {
        log.warn(`IPC bus: ${op} handler failed: ${String(error)}`);
      }
    });
    try {
      await call(op, [stream, ...args]);
    } catch (error) {
      streams.delete(stream);
      throw error;
    }
    return {
      async stop() {
        if (stopped) return;
        stopped = true;
        streams.delete(stream);
        if (!closed) await rawCall("unsubscribe", [stream]).catch(() => undefined);
      },
    };
  };

  const toDelivery = (wire: WireDelivery): JobDelivery => {
    const settle = (op: "nak" | "term" | "working", args: unknown[]) => {
      if (!closed) cast(op, [wire.handle, ...args]);
    };
    return {
      envelope: wire.envelope as JobEnvelope,
      subject: wire.subject,
      seq: wire.seq,
      deliveryCount: wire.deliveryCount,
      ack: () => call<void>("ack", [wire.handle]),
      nak: (delayMs?: number) => settle("nak", [delayMs && delayMs > 0 ? delayMs : 0]),
      working: () => settle("working", []),
      term: () => settle("term", []),
    };
  };

  const cancels: JobCancels = {
    async request(jobId) {
      ensureOpen();
      await call("cancels.request", [checkKeyToken("jobId", jobId)]);
    },
    async isRequested(jobId) {
      ensureOpen();
      return call<boolean>("cancels.isRequested", [checkKeyToken("jobId", jobId)]);
    },
    watch: (handler) => watchStream("cancels.watch", (value) => handler(value as string)),
  };

  const runners: RunnerHeartbeats = {
    async put(runnerId, heartbeat) {
      ensureOpen();
      await call("runners.put", [checkKeyToken("runnerId", runnerId), JSON.parse(JSON.stringify(heartbeat))]);
    },
    async delete(runnerId) {
      ensureOpen();
      await call("runners.delete", [checkKeyToken("runnerId", runnerId)]);
    },
    list: () => call<RunnerHeartbeatEntry[]>("runners.list"),
    watch: (handler) => watchStream("runners.watch", (value) => handler(value as RunnerHeartbeatChange)),
  };

  const artifacts: ArtifactBucket = {
    async put(key, data): Promise<StoredArtifact> {
      ensureOpen();
      checkArtifactKey(key);
      const id = await call<number>("artifacts.putOpen", [key]);
      try {
        for await (const chunk of artifactChunks(data)) {
          for (const slice of slices(chunk)) await call("artifacts.putChunk", [id, slice]);
        }
      } catch (error) {
        cast("artifacts.putAbort", [id, error instanceof Error ? error.message : String(error)]);
        throw error;
      }
      return call<StoredArtifact>("artifacts.putEnd", [id]);
    },
    async get(key) {
      ensureOpen();
      checkArtifactKey(key);
      const id = await call<number | null>("artifacts.getOpen", [key]);
      if (id === null) return null;
      return (async function* () {
        let finished = false;
        try {
          for (;;) {
            const next = await call<{ done: boolean; chunk?: Uint8Array }>("artifacts.getNext", [id]);
            if (next.done) {
              finished = true;
              return;
            }
            yield next.chunk!;
          }
        } finally {
          if (!finished) cast("artifacts.getClose", [id]);
        }
      })();
    },
    async info(key) {
      ensureOpen();
      return call<ArtifactInfo | null>("artifacts.info", [checkArtifactKey(key)]);
    },
    async delete(key) {
      ensureOpen();
      return call<boolean>("artifacts.delete", [checkArtifactKey(key)]);
    },
    async list(prefix = "") {
      ensureOpen();
      return call<ArtifactInfo[]>("artifacts.list", [prefix]);
    },
  };

  const subscriptions = new Set<EventSubscription>();

  return {
    kind: "ipc",
    settings,
    cancels,
    runners,
    artifacts,

    async publishJob(envelope: JobEnvelope): Promise<PublishedJob> {
      ensureOpen();
      const valid = parseJobEnvelope(JSON.parse(JSON.stringify(envelope)));
      return call<PublishedJob>("publishJob", [valid]);
    },

    async pullJobs(kind: JobKind, pull): Promise<JobDelivery[]> {
      ensureOpen();
      checkPullOptions(pull);
      checkJobKind("pullJobs", kind);
      try {
        return (await call<WireDelivery[]>("pullJobs", [kind, { max: pull.max, expiresMs: pull.expiresMs }])).map(toDelivery);
      } catch (error) {
        if (closed) return [];
        throw error;
      }
    },

    async watchJobs(kinds, handler) {
      for (const kind of kinds) checkJobKind("watchJobs", kind);
      return watchStream("watchJobs", (value) => handler(value as JobKind), [[...kinds]]);
    },

    async publishEvent(jobId, event) {
      ensureOpen();
      names.eventSubject(jobId);
      const valid = parseJobEvent(JSON.parse(JSON.stringify(event)));
      return call<{ seq: number }>("publishEvent", [jobId, valid]);
    },

    async subscribeEvents(subscribe, handler: EventHandler): Promise<EventSubscription> {
      ensureOpen();
      if (subscribe.jobId !== undefined) names.eventSubject(subscribe.jobId);
      const afterSeq = checkAfterSeq(subscribe.afterSeq);
      let stopped = false;
      let chain: Promise<void> = Promise.resolve();
      const stream = openStream((value, pushId) => {
        chain = chain.then(async () => {
          if (!stopped) {
            try {
              await handler(value as EventDelivery);
            } catch (error) {
              log.warn(`event handler failed at seq ${(value as EventDelivery).seq}: ${String(error)}`);
            }
          }
          if (pushId !== undefined) cast("pushed", [pushId]);
        });
      });
      try {
        await call("subscribeEvents", [stream, { ...(subscribe.jobId !== undefined ? { jobId: subscribe.jobId } : {}), afterSeq }]);
      } catch (error) {
        streams.delete(stream);
        throw error;
      }
      const subscription: EventSubscription = {
        async stop() {
          if (stopped) return;
          stopped = true;
          subscriptions.delete(subscription);
          streams.delete(stream);
          if (!closed) await rawCall("unsubscribe", [stream]).catch(() => undefined);
          await chain;
        },
      };
      subscriptions.add(subscription);
      return subscription;
    },

    async readEvents(jobId: string, afterSeq?: number): Promise<EventDelivery[]> {
      ensureOpen();
      names.eventSubject(jobId);
      return call<EventDelivery[]>("readEvents", [jobId, checkAfterSeq(afterSeq)]);
    },

    onDeadLetter(handler: (deadLetter: DeadLetter) => void | Promise<void>) {
      if (closed || lost) return () => {};
      const stream = openStream((value) => {
        Promise.resolve()
          .then(() => handler(value as DeadLetter))
          .catch((error: unknown) => log.warn(`dead-letter handler failed: ${String(error)}`));
      });
      cast("onDeadLetter", [stream]);
      return () => {
        if (!streams.delete(stream)) return;
        if (!closed) cast("unsubscribe", [stream]);
      };
    },

    async queueDepth(kind: JobKind): Promise<JobQueueDepth> {
      ensureOpen();
      return call<JobQueueDepth>("queueDepth", [kind]);
    },

    async close(): Promise<void> {
      if (closed) return;
      await Promise.all([...subscriptions].map((s) => s.stop()));
      closed = true;
      streams.clear();
      if (!lost) {
        const timeoutMs = options.closeTimeoutMs ?? 5000;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          rawCall("close", []).catch(() => undefined),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, timeoutMs);
          }),
        ]).finally(() => clearTimeout(timer));
      }
      const gone = new BusClosedError();
      for (const pendingCall of pending.values()) pendingCall.reject(gone);
      pending.clear();
      endpoint.off("message", onMessage);
      endpoint.off("disconnect", onDisconnect);
    },
  };
}
