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
import { parseJobEnvelope, parseJobEvent, type JobEnvelope, type JobEvent, type JobKind, type RunnerHeartbeat } from "../contracts/index.ts";
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
  type ArtifactSource,
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
  type RunnerHeartbeatChange,
  type RunnerHeartbeatEntry,
  type RunnerHeartbeats,
  type StoredArtifact,
  type SubscribeEventsOptions,
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
  const channel = new IpcChannel(endpoint, log);
  let hello: HelloValue;
  try {
    hello = await handshake(channel, options.helloTimeoutMs ?? 10_000);
  } catch (error) {
    channel.detach();
    throw error;
  }
  if (!(hello.probe instanceof Uint8Array)) {
    channel.detach();
    throw new BusArgumentError('the IPC channel does not carry binary data: spawn the process with serialization "advanced"');
  }
  const settings: JobQueueSettings = { ...DEFAULT_JOB_QUEUE_SETTINGS, ...(hello.settings as Partial<JobQueueSettings>) };
  log.info(`job bus: over IPC to the ${hello.kind} bus of the parent process`);
  return new IpcBusClient({ channel, settings, log, closeTimeoutMs: options.closeTimeoutMs ?? 5000 });
}

/** A server that is still starting may miss a message: `hello` is repeated every 250 ms until one is answered. */
async function handshake(channel: IpcChannel, timeoutMs: number): Promise<HelloValue> {
  const timers: NodeJS.Timeout[] = [];
  return new Promise<HelloValue>((resolve, reject) => {
    const attempt = () => channel.rawCall<HelloValue>("hello", []).then(resolve, reject);
    attempt();
    timers.push(setInterval(attempt, 250));
    timers.push(setTimeout(() => reject(new BusTransportError(`no bus answered over the IPC channel within ${timeoutMs} ms`)), timeoutMs));
  }).finally(() => {
    for (const timer of timers) clearTimeout(timer);
    channel.forgetCalls("hello");
  });
}

type PushHandler = (value: unknown, pushId: number | undefined) => void;

interface PendingCall {
  readonly op: Op;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

/**
 * The client's end of the IPC channel: calls waiting for their result, push streams by id, and the two ways it
 * ends (the channel lost: BusTransportError; the client closed: BusClosedError).
 */
class IpcChannel {
  readonly #endpoint: IpcEndpoint;
  readonly #log: BusLogger;
  readonly #pending = new Map<number, PendingCall>();
  readonly #streams = new Map<number, PushHandler>();
  #nextId = 1;
  #nextStream = 1;
  #closed = false;
  #lost: BusTransportError | null = null;

  constructor(endpoint: IpcEndpoint, log: BusLogger) {
    this.#endpoint = endpoint;
    this.#log = log;
    endpoint.on("message", this.#onMessage);
    endpoint.on("disconnect", this.#onDisconnect);
  }

  /** The client called `close()`. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether the channel closed under the client. */
  get lost(): boolean {
    return this.#lost !== null;
  }

  ensureOpen(): void {
    if (this.#closed) throw new BusClosedError();
    if (this.#lost) throw this.#lost;
  }

  /** Sends a call and resolves with its result (no ensureOpen: the handshake and `close` use it too). */
  rawCall<T>(op: Op, args: readonly unknown[]): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#lost) return reject(this.#lost);
      const id = this.#nextId++;
      this.#pending.set(id, { op, resolve: resolve as (value: unknown) => void, reject });
      sendMessage(this.#endpoint, { parmBus: PROTOCOL_TAG, t: "call", id, op, args }).catch((error: unknown) => {
        this.#pending.delete(id);
        reject(error as Error);
      });
    });
  }

  async call<T>(op: Op, args: readonly unknown[] = []): Promise<T> {
    this.ensureOpen();
    return this.rawCall<T>(op, args);
  }

  cast(op: CastMessage["op"], args: readonly unknown[]): void {
    if (this.#lost) return;
    void sendMessage(this.#endpoint, { parmBus: PROTOCOL_TAG, t: "cast", op, args }).catch(() => undefined);
  }

  /** Registers a push stream; the returned id goes in the call that starts it. */
  openStream(handler: PushHandler): number {
    const stream = this.#nextStream++;
    this.#streams.set(stream, handler);
    return stream;
  }

  /** Forgets a push stream; false when it was not open. */
  dropStream(stream: number): boolean {
    return this.#streams.delete(stream);
  }

  /** A watch whose handler gets each value pushed on its stream, started by calling `op` with the stream id. */
  async watchStream(op: Op, handler: (value: unknown) => void, args: readonly unknown[] = []): Promise<BusWatch> {
    this.ensureOpen();
    let stopped = false;
    const stream = this.openStream((value) => {
      if (stopped) return;
      try {
        handler(value);
      } catch (error) {
        this.#log.warn(`IPC bus: ${op} handler failed: ${String(error)}`);
      }
    });
    await this.#start(stream, op, args);
    return {
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await this.stopStream(stream);
      },
    };
  }

  /** Forgets the stream and, unless the client closed, tells the server to end it. */
  async stopStream(stream: number): Promise<void> {
    this.#streams.delete(stream);
    if (!this.#closed) await this.rawCall("unsubscribe", [stream]).catch(() => undefined);
  }

  /** Forgets the calls of `op` still waiting (their answers are ignored). */
  forgetCalls(op: Op): void {
    for (const [id, waiting] of this.#pending) if (waiting.op === op) this.#pending.delete(id);
  }

  /** The client closed: later calls are BusClosedError, pushes are dropped. */
  markClosed(): void {
    this.#closed = true;
    this.#streams.clear();
  }

  /** Fails the calls still waiting with `error`. */
  rejectPending(error: Error): void {
    for (const pendingCall of this.#pending.values()) pendingCall.reject(error);
    this.#pending.clear();
  }

  /** Stops listening to the endpoint. */
  detach(): void {
    this.#endpoint.off("message", this.#onMessage);
    this.#endpoint.off("disconnect", this.#onDisconnect);
  }

  /** Calls `op` with the stream id first; the stream is dropped when the call fails. */
  async #start(stream: number, op: Op, args: readonly unknown[]): Promise<void> {
    try {
      await this.call(op, [stream, ...args]);
    } catch (error) {
      this.#streams.delete(stream);
      throw error;
    }
  }

  readonly #onMessage = (message: unknown): void => {
    if (!isProtocolMessage(message)) return;
    if (message.t === "result") this.#onResult(message as ResultMessage);
    else if (message.t === "push") this.#onPush(message as PushMessage);
  };

  readonly #onDisconnect = (): void => {
    this.#lost = new BusTransportError("the IPC channel to the bus's process closed");
    this.rejectPending(this.#lost);
  };

  #onResult(result: ResultMessage): void {
    const call = this.#pending.get(result.id);
    if (!call) return;
    this.#pending.delete(result.id);
    if (result.ok) call.resolve(result.value);
    else call.reject(deserializeError(result.error, call.op));
  }

  /** A push for a stream no longer open is still acknowledged, so the server does not wait for it. */
  #onPush(pushed: PushMessage): void {
    const handler = this.#streams.get(pushed.stream);
    if (handler) handler(pushed.value, pushed.pushId);
    else if (pushed.pushId !== undefined) this.cast("pushed", [pushed.pushId]);
  }
}

/** The events pushed on one stream: one handler call at a time, each acknowledged to the server after it. */
class EventStream {
  readonly id: number;
  readonly #channel: IpcChannel;
  readonly #handler: EventHandler;
  readonly #log: BusLogger;
  #chain: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(channel: IpcChannel, handler: EventHandler, log: BusLogger) {
    this.#channel = channel;
    this.#handler = handler;
    this.#log = log;
    this.id = channel.openStream((value, pushId) => {
      this.#chain = this.#chain.then(() => this.#handle(value as EventDelivery, pushId));
    });
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Resolves once the handler will not be called again. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#channel.stopStream(this.id);
    await this.#chain;
  }

  async #handle(delivery: EventDelivery, pushId: number | undefined): Promise<void> {
    if (!this.#stopped) {
      try {
        await this.#handler(delivery);
      } catch (error) {
        this.#log.warn(`event handler failed at seq ${delivery.seq}: ${String(error)}`);
      }
    }
    if (pushId !== undefined) this.#channel.cast("pushed", [pushId]);
  }
}

interface IpcBusParts {
  readonly channel: IpcChannel;
  readonly settings: JobQueueSettings;
  readonly log: BusLogger;
  readonly closeTimeoutMs: number;
}

/** The bus port over the IPC channel (see the module comment); made by `connectIpcBus` after the handshake. */
class IpcBusClient implements JobBus {
  readonly kind = "ipc" as const;
  readonly settings: JobQueueSettings;
  readonly cancels: JobCancels;
  readonly runners: RunnerHeartbeats;
  readonly artifacts: ArtifactBucket;
  readonly #channel: IpcChannel;
  readonly #log: BusLogger;
  readonly #closeTimeoutMs: number;
  readonly #names = busNames();
  readonly #subscriptions = new Set<EventSubscription>();

  constructor(parts: IpcBusParts) {
    this.settings = parts.settings;
    this.#channel = parts.channel;
    this.#log = parts.log;
    this.#closeTimeoutMs = parts.closeTimeoutMs;
    this.cancels = new IpcCancels(parts.channel);
    this.runners = new IpcRunners(parts.channel);
    this.artifacts = new IpcArtifacts(parts.channel);
  }

  async publishJob(envelope: JobEnvelope): Promise<PublishedJob> {
    this.#channel.ensureOpen();
    const valid = parseJobEnvelope(JSON.parse(JSON.stringify(envelope)));
    return this.#channel.call<PublishedJob>("publishJob", [valid]);
  }

  async pullJobs(kind: JobKind, pull: PullJobsOptions): Promise<JobDelivery[]> {
    this.#channel.ensureOpen();
    checkPullOptions(pull);
    checkJobKind("pullJobs", kind);
    try {
      const wires = await this.#channel.call<WireDelivery[]>("pullJobs", [kind, { max: pull.max, expiresMs: pull.expiresMs }]);
      return wires.map((wire) => this.#toDelivery(wire));
    } catch (error) {
      if (this.#channel.closed) return [];
      throw error;
    }
  }

  async watchJobs(kinds: readonly JobKind[], handler: JobsReadyHandler): Promise<BusWatch> {
    for (const kind of kinds) checkJobKind("watchJobs", kind);
    return this.#channel.watchStream("watchJobs", (value) => handler(value as JobKind), [[...kinds]]);
  }

  async publishEvent(jobId: string, event: JobEvent): Promise<{ seq: number }> {
    this.#channel.ensureOpen();
    this.#names.eventSubject(jobId);
    const valid = parseJobEvent(JSON.parse(JSON.stringify(event)));
    return this.#channel.call<{ seq: number }>("publishEvent", [jobId, valid]);
  }

  async subscribeEvents(subscribe: SubscribeEventsOptions, handler: EventHandler): Promise<EventSubscription> {
    this.#channel.ensureOpen();
    if (subscribe.jobId !== undefined) this.#names.eventSubject(subscribe.jobId);
    const afterSeq = checkAfterSeq(subscribe.afterSeq);
    const events = new EventStream(this.#channel, handler, this.#log);
    try {
      await this.#channel.call("subscribeEvents", [events.id, { ...(subscribe.jobId !== undefined ? { jobId: subscribe.jobId } : {}), afterSeq }]);
    } catch (error) {
      this.#channel.dropStream(events.id);
      throw error;
    }
    const subscription: EventSubscription = {
      stop: async () => {
        if (events.stopped) return;
        this.#subscriptions.delete(subscription);
        await events.stop();
      },
    };
    this.#subscriptions.add(subscription);
    return subscription;
  }

  async readEvents(jobId: string, afterSeq?: number): Promise<EventDelivery[]> {
    this.#channel.ensureOpen();
    this.#names.eventSubject(jobId);
    return this.#channel.call<EventDelivery[]>("readEvents", [jobId, checkAfterSeq(afterSeq)]);
  }

  onDeadLetter(handler: (deadLetter: DeadLetter) => void | Promise<void>): () => void {
    const channel = this.#channel;
    if (channel.closed || channel.lost) return () => {};
    const stream = channel.openStream((value) => {
      Promise.resolve()
        .then(() => handler(value as DeadLetter))
        .catch((error: unknown) => this.#log.warn(`dead-letter handler failed: ${String(error)}`));
    });
    channel.cast("onDeadLetter", [stream]);
    return () => {
      if (!channel.dropStream(stream)) return;
      if (!channel.closed) channel.cast("unsubscribe", [stream]);
    };
  }

  async queueDepth(kind: JobKind): Promise<JobQueueDepth> {
    this.#channel.ensureOpen();
    return this.#channel.call<JobQueueDepth>("queueDepth", [kind]);
  }

  async close(): Promise<void> {
    const channel = this.#channel;
    if (channel.closed) return;
    await Promise.all([...this.#subscriptions].map((s) => s.stop()));
    channel.markClosed();
    if (!channel.lost) await this.#confirmClose();
    channel.rejectPending(new BusClosedError());
    channel.detach();
  }

  /** Waits (at most closeTimeoutMs) until the server handled everything sent before the `close` call. */
  async #confirmClose(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#channel.rawCall("close", []).catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#closeTimeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  #toDelivery(wire: WireDelivery): JobDelivery {
    const channel = this.#channel;
    const settle = (op: "nak" | "term" | "working", args: unknown[]) => {
      if (!channel.closed) channel.cast(op, [wire.handle, ...args]);
    };
    return {
      envelope: wire.envelope as JobEnvelope,
      subject: wire.subject,
      seq: wire.seq,
      deliveryCount: wire.deliveryCount,
      ack: () => channel.call<void>("ack", [wire.handle]),
      nak: (delayMs?: number) => settle("nak", [delayMs && delayMs > 0 ? delayMs : 0]),
      working: () => settle("working", []),
      term: () => settle("term", []),
    };
  }
}

/** `cancels` over IPC. */
class IpcCancels implements JobCancels {
  readonly #channel: IpcChannel;

  constructor(channel: IpcChannel) {
    this.#channel = channel;
  }

  async request(jobId: string): Promise<void> {
    this.#channel.ensureOpen();
    await this.#channel.call("cancels.request", [checkKeyToken("jobId", jobId)]);
  }

  async isRequested(jobId: string): Promise<boolean> {
    this.#channel.ensureOpen();
    return this.#channel.call<boolean>("cancels.isRequested", [checkKeyToken("jobId", jobId)]);
  }

  watch(handler: (jobId: string) => void): Promise<BusWatch> {
    return this.#channel.watchStream("cancels.watch", (value) => handler(value as string));
  }
}

/** `runners` over IPC. */
class IpcRunners implements RunnerHeartbeats {
  readonly #channel: IpcChannel;

  constructor(channel: IpcChannel) {
    this.#channel = channel;
  }

  async put(runnerId: string, heartbeat: RunnerHeartbeat): Promise<void> {
    this.#channel.ensureOpen();
    await this.#channel.call("runners.put", [checkKeyToken("runnerId", runnerId), JSON.parse(JSON.stringify(heartbeat))]);
  }

  async delete(runnerId: string): Promise<void> {
    this.#channel.ensureOpen();
    await this.#channel.call("runners.delete", [checkKeyToken("runnerId", runnerId)]);
  }

  list(): Promise<RunnerHeartbeatEntry[]> {
    return this.#channel.call<RunnerHeartbeatEntry[]>("runners.list");
  }

  watch(handler: (change: RunnerHeartbeatChange) => void): Promise<BusWatch> {
    return this.#channel.watchStream("runners.watch", (value) => handler(value as RunnerHeartbeatChange));
  }
}

/** `artifacts` over IPC: uploads and downloads in chunks of at most ARTIFACT_CHUNK_BYTES, one call per chunk. */
class IpcArtifacts implements ArtifactBucket {
  readonly #channel: IpcChannel;

  constructor(channel: IpcChannel) {
    this.#channel = channel;
  }

  async put(key: string, data: ArtifactSource): Promise<StoredArtifact> {
    this.#channel.ensureOpen();
    checkArtifactKey(key);
    const id = await this.#channel.call<number>("artifacts.putOpen", [key]);
    try {
      for await (const chunk of artifactChunks(data)) {
        for (const slice of slices(chunk)) await this.#channel.call("artifacts.putChunk", [id, slice]);
      }
    } catch (error) {
      this.#channel.cast("artifacts.putAbort", [id, error instanceof Error ? error.message : String(error)]);
      throw error;
    }
    return this.#channel.call<StoredArtifact>("artifacts.putEnd", [id]);
  }

  async get(key: string): Promise<AsyncIterable<Uint8Array> | null> {
    this.#channel.ensureOpen();
    checkArtifactKey(key);
    const id = await this.#channel.call<number | null>("artifacts.getOpen", [key]);
    return id === null ? null : download(this.#channel, id);
  }

  async info(key: string): Promise<ArtifactInfo | null> {
    this.#channel.ensureOpen();
    return this.#channel.call<ArtifactInfo | null>("artifacts.info", [checkArtifactKey(key)]);
  }

  async delete(key: string): Promise<boolean> {
    this.#channel.ensureOpen();
    return this.#channel.call<boolean>("artifacts.delete", [checkArtifactKey(key)]);
  }

  async list(prefix = ""): Promise<ArtifactInfo[]> {
    this.#channel.ensureOpen();
    return this.#channel.call<ArtifactInfo[]>("artifacts.list", [prefix]);
  }
}

/** The chunks of download `id`, one call each; a download left before its end is closed on the server. */
async function* download(channel: IpcChannel, id: number): AsyncGenerator<Uint8Array> {
  let finished = false;
  try {
    for (;;) {
      const next = await channel.call<{ done: boolean; chunk?: Uint8Array }>("artifacts.getNext", [id]);
      if (next.done) {
        finished = true;
        return;
      }
      yield next.chunk!;
    }
  } finally {
    if (!finished) channel.cast("artifacts.getClose", [id]);
  }
}
