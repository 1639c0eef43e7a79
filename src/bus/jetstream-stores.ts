/**
 * @module bus/jetstream-stores — the bus facets on NATS, over the bus's one connection: KV bucket `job_cancels`
 * (`cancels`, max_age 24 h), KV bucket `runners` (`runners`, max_age = heartbeat TTL) and object store `artifacts`
 * (`artifacts`), each namespaced like the streams (`ns_runners`, …; bus/names.ts `storeNames`). Buckets are
 * created on first use, idempotently: an existing bucket keeps its configuration (the first process to create
 * `runners` sets its max_age). Failures are BusTransportError; bad keys BusArgumentError.
 */
import { createHash } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import { KvWatchInclude, Kvm, type KV, type KvWatchEntry } from "@nats-io/kv";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Objm, type ObjectInfo, type ObjectResult, type ObjectStore } from "@nats-io/obj";
import type { RunnerHeartbeat } from "../contracts/index.ts";
import type { StoreNames } from "./names.ts";
import {
  BusArgumentError,
  BusTransportError,
  CANCEL_REQUEST_TTL_MS,
  artifactChunks,
  checkArtifactKey,
  checkKeyToken,
  type ArtifactBucket,
  type ArtifactInfo,
  type ArtifactSource,
  type BusLogger,
  type BusWatch,
  type JobCancels,
  type RunnerHeartbeatChange,
  type RunnerHeartbeatEntry,
  type RunnerHeartbeats,
  type StoredArtifact,
} from "./types.ts";

export interface JetStreamStores {
  readonly cancels: JobCancels;
  readonly runners: RunnerHeartbeats;
  readonly artifacts: ArtifactBucket;
  /** Stops the open watches (before the connection drains). */
  stopWatches(): Promise<void>;
}

interface StoreContext {
  readonly nc: NatsConnection;
  readonly names: StoreNames;
  readonly heartbeatTtlMs: number;
  readonly log: BusLogger;
  /** Throws BusClosedError once the bus is closed. */
  readonly ensureOpen: () => void;
}

function failure(action: string, error: unknown): Error {
  if (error instanceof BusArgumentError || error instanceof BusTransportError) return error;
  if ((error as { code?: string } | null)?.code === "BUS_CLOSED") return error as Error;
  return new BusTransportError(`${action}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

/** Runs `body`, turning any failure into a BusTransportError naming `action`. */
async function guarded<T>(action: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw failure(action, error);
  }
}

/** Opens a resource once; a failed open is retried on the next use. */
function lazy<T>(open: () => Promise<T>): () => Promise<T> {
  let opened: Promise<T> | null = null;
  return () =>
    (opened ??= open().catch((error: unknown) => {
      opened = null;
      throw error;
    }));
}

const decoder = new TextDecoder();

const byKey = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);

export function jetStreamStores(context: StoreContext): JetStreamStores {
  const { nc, names, log, ensureOpen } = context;
  const kvm = new Kvm(nc);
  const cancelsKv = lazy(() => kvm.create(names.cancelsBucket, { ttl: CANCEL_REQUEST_TTL_MS, history: 1 }));
  const runnersKv = lazy(() => kvm.create(names.runnersBucket, { ttl: context.heartbeatTtlMs, history: 1 }));
  const objectStore = lazy((): Promise<ObjectStore> => new Objm(nc).create(names.artifactsStore));
  const watches = new KvWatches(log);
  const jsm = lazy(() => jetstreamManager(nc));
  return {
    cancels: new JetStreamCancels(cancelsKv, watches, ensureOpen),
    runners: new JetStreamRunners({ kv: runnersKv, liveKeys: () => liveKeys(jsm, names.runnersBucket), watches, log, ensureOpen }),
    artifacts: new JetStreamArtifacts(objectStore, ensureOpen),
    async stopWatches() {
      await watches.stopAll();
    },
  };
}

/**
 * The keys with a stored value in a KV bucket, from its stream's per-subject counts (a stream info request).
 * `kv.keys()` iterates an ordered consumer instead, which can wait forever when an entry expires while it runs
 * (heartbeats expire all the time).
 */
async function liveKeys(jsm: () => Promise<JetStreamManager>, bucket: string): Promise<string[]> {
  const prefix = `$KV.${bucket}.`;
  const info = await (await jsm()).streams.info(`KV_${bucket}`, { subjects_filter: `${prefix}>` });
  return Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix.length));
}

type KvWatchIterator = Awaited<ReturnType<KV["watch"]>>;

/** The open KV watches of the stores, stopped together before the connection drains. */
class KvWatches {
  readonly #log: BusLogger;
  readonly #watches = new Set<BusWatch>();

  constructor(log: BusLogger) {
    this.#log = log;
  }

  /** A KV watch calling `onEntry` for each entry until stopped (or until the connection ends it). */
  async watch(kv: KV, include: KvWatchInclude, what: string, onEntry: (entry: KvWatchEntry) => void): Promise<BusWatch> {
    const iterator = await kv.watch({ include });
    const watch = new KvWatch(iterator, what, this.#log, onEntry, () => this.#watches.delete(watch));
    this.#watches.add(watch);
    return watch;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#watches].map((w) => w.stop()));
  }
}

/** One KV watch: its entries go to `onEntry`, one at a time, until `stop()`. */
class KvWatch implements BusWatch {
  readonly #iterator: KvWatchIterator;
  readonly #onStop: () => void;
  readonly #loop: Promise<void>;
  #stopped = false;

  constructor(iterator: KvWatchIterator, what: string, log: BusLogger, onEntry: (entry: KvWatchEntry) => void, onStop: () => void) {
    this.#iterator = iterator;
    this.#onStop = onStop;
    this.#loop = this.#run(what, log, onEntry).catch((error: unknown) => {
      if (!this.#stopped) log.warn(`${what} watch ended: ${String(error)}`);
    });
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#onStop();
    this.#iterator.stop();
    await this.#loop;
  }

  async #run(what: string, log: BusLogger, onEntry: (entry: KvWatchEntry) => void): Promise<void> {
    for await (const entry of this.#iterator) {
      if (this.#stopped) break;
      try {
        onEntry(entry);
      } catch (error) {
        log.warn(`${what} watch handler failed: ${String(error)}`);
      }
    }
  }
}

/** `cancels` on KV bucket `job_cancels`. */
class JetStreamCancels implements JobCancels {
  readonly #kv: () => Promise<KV>;
  readonly #watches: KvWatches;
  readonly #ensureOpen: () => void;

  constructor(kv: () => Promise<KV>, watches: KvWatches, ensureOpen: () => void) {
    this.#kv = kv;
    this.#watches = watches;
    this.#ensureOpen = ensureOpen;
  }

  async request(jobId: string): Promise<void> {
    this.#ensureOpen();
    checkKeyToken("jobId", jobId);
    await guarded(`requesting the cancellation of job ${jobId}`, async () => {
      await (await this.#kv()).put(jobId, JSON.stringify({ at: new Date().toISOString() }));
    });
  }

  async isRequested(jobId: string): Promise<boolean> {
    this.#ensureOpen();
    checkKeyToken("jobId", jobId);
    return guarded(`reading the cancellation of job ${jobId}`, async () => {
      const entry = await (await this.#kv()).get(jobId);
      return entry !== null && entry.operation === "PUT";
    });
  }

  async watch(handler: (jobId: string) => void): Promise<BusWatch> {
    this.#ensureOpen();
    return guarded("watching cancellations", async () =>
      this.#watches.watch(await this.#kv(), KvWatchInclude.LastValue, "cancel", (entry) => {
        if (entry.operation === "PUT") handler(entry.key);
      }),
    );
  }
}

interface RunnersParts {
  readonly kv: () => Promise<KV>;
  /** The runner ids with a stored heartbeat. */
  readonly liveKeys: () => Promise<string[]>;
  readonly watches: KvWatches;
  readonly log: BusLogger;
  readonly ensureOpen: () => void;
}

/** `runners` on KV bucket `runners` (max_age = the heartbeat TTL). */
class JetStreamRunners implements RunnerHeartbeats {
  readonly #parts: RunnersParts;

  constructor(parts: RunnersParts) {
    this.#parts = parts;
  }

  async put(runnerId: string, heartbeat: RunnerHeartbeat): Promise<void> {
    this.#parts.ensureOpen();
    checkKeyToken("runnerId", runnerId);
    await guarded(`writing the heartbeat of runner ${runnerId}`, async () => {
      await (await this.#parts.kv()).put(runnerId, JSON.stringify(heartbeat));
    });
  }

  async delete(runnerId: string): Promise<void> {
    this.#parts.ensureOpen();
    checkKeyToken("runnerId", runnerId);
    await guarded(`removing the heartbeat of runner ${runnerId}`, async () => {
      await (await this.#parts.kv()).delete(runnerId);
    });
  }

  async list(): Promise<RunnerHeartbeatEntry[]> {
    this.#parts.ensureOpen();
    return guarded("listing runner heartbeats", async () => {
      const kv = await this.#parts.kv();
      const out = [];
      for (const key of await this.#parts.liveKeys()) {
        const entry = await kv.get(key);
        if (!entry || entry.operation !== "PUT") continue;
        out.push({ runnerId: key, heartbeat: this.#parseValue(key, entry.value) });
      }
      return out.sort((a, b) => byKey(a.runnerId, b.runnerId));
    });
  }

  async watch(handler: (change: RunnerHeartbeatChange) => void): Promise<BusWatch> {
    this.#parts.ensureOpen();
    return guarded("watching runner heartbeats", async () =>
      this.#parts.watches.watch(await this.#parts.kv(), KvWatchInclude.UpdatesOnly, "heartbeat", (entry) => {
        handler({ runnerId: entry.key, heartbeat: entry.operation === "PUT" ? this.#parseValue(entry.key, entry.value) : null });
      }),
    );
  }

  #parseValue(runnerId: string, bytes: Uint8Array): unknown {
    try {
      return JSON.parse(decoder.decode(bytes));
    } catch {
      this.#parts.log.warn(`runner heartbeat ${runnerId} is not JSON`);
      return null;
    }
  }
}

const toInfo = (info: ObjectInfo): ArtifactInfo => ({ key: info.name, sizeBytes: info.size, modified: new Date(info.mtime) });

/** `artifacts` on object store `artifacts`, streamed both ways. */
class JetStreamArtifacts implements ArtifactBucket {
  readonly #store: () => Promise<ObjectStore>;
  readonly #ensureOpen: () => void;

  constructor(store: () => Promise<ObjectStore>, ensureOpen: () => void) {
    this.#store = store;
    this.#ensureOpen = ensureOpen;
  }

  async put(key: string, data: ArtifactSource): Promise<StoredArtifact> {
    this.#ensureOpen();
    checkArtifactKey(key);
    return guarded(`storing artifact ${key}`, async () => {
      const store = await this.#store();
      const hashed = new HashingSource(data);
      await store.put({ name: key }, hashed.stream);
      return { key, ...hashed.digest() };
    });
  }

  async get(key: string): Promise<AsyncIterable<Uint8Array> | null> {
    this.#ensureOpen();
    checkArtifactKey(key);
    const result = await guarded(`reading artifact ${key}`, async () => (await this.#store()).get(key));
    if (result === null) return null;
    result.error.catch(() => undefined); // surfaced by the stream below
    return objectChunks(key, result);
  }

  async info(key: string): Promise<ArtifactInfo | null> {
    this.#ensureOpen();
    checkArtifactKey(key);
    return guarded(`reading artifact ${key}`, async () => {
      const info = await (await this.#store()).info(key);
      return info === null || info.deleted ? null : toInfo(info);
    });
  }

  async delete(key: string): Promise<boolean> {
    this.#ensureOpen();
    checkArtifactKey(key);
    return guarded(`deleting artifact ${key}`, async () => {
      const store = await this.#store();
      const info = await store.info(key);
      if (info === null || info.deleted) return false;
      await store.delete(key);
      return true;
    });
  }

  async list(prefix = ""): Promise<ArtifactInfo[]> {
    this.#ensureOpen();
    return guarded("listing artifacts", async () => {
      const infos = await (await this.#store()).list();
      return infos
        .filter((info) => !info.deleted && info.name.startsWith(prefix))
        .map(toInfo)
        .sort((a, b) => byKey(a.key, b.key));
    });
  }
}

/** An artifact source as the ReadableStream the object store reads, hashing and counting the chunks it hands out. */
class HashingSource {
  readonly stream: ReadableStream<Uint8Array>;
  readonly #hash = createHash("sha256");
  #sizeBytes = 0;

  constructor(data: ArtifactSource) {
    const chunks = artifactChunks(data);
    this.stream = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const next = await chunks.next();
        if (next.done) {
          controller.close();
          return;
        }
        this.#hash.update(next.value);
        this.#sizeBytes += next.value.byteLength;
        controller.enqueue(next.value);
      },
      cancel: async () => {
        await chunks.return(undefined);
      },
    });
  }

  /** What was read, once the stream ended. */
  digest(): { sha256: string; sizeBytes: number } {
    return { sha256: this.#hash.digest("hex"), sizeBytes: this.#sizeBytes };
  }
}

/** The object's non-empty chunks; a read failure, or one the store reports at the end, is a BusTransportError. */
async function* objectChunks(key: string, result: ObjectResult): AsyncGenerator<Uint8Array> {
  const reader = result.data.getReader();
  let finished = false;
  try {
    for (;;) {
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await reader.read();
      } catch (error) {
        finished = true;
        throw failure(`reading artifact ${key}`, error);
      }
      if (next.done) break;
      if (next.value.byteLength > 0) yield next.value;
    }
    finished = true;
    const error = await result.error.catch((e: unknown) => e);
    if (error) throw failure(`reading artifact ${key}`, error);
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
  }
}
