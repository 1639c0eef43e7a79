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
import { jetstreamManager } from "@nats-io/jetstream";
import { Objm, type ObjectInfo, type ObjectStore } from "@nats-io/obj";
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
  type BusLogger,
  type BusWatch,
  type JobCancels,
  type RunnerHeartbeats,
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

export function jetStreamStores(context: StoreContext): JetStreamStores {
  const { nc, names, log, ensureOpen } = context;
  const kvm = new Kvm(nc);
  const cancelsKv = lazy(() => kvm.create(names.cancelsBucket, { ttl: CANCEL_REQUEST_TTL_MS, history: 1 }));
  const runnersKv = lazy(() => kvm.create(names.runnersBucket, { ttl: context.heartbeatTtlMs, history: 1 }));
  const objectStore = lazy((): Promise<ObjectStore> => new Objm(nc).create(names.artifactsStore));
  const watches = new Set<BusWatch>();
  const jsm = lazy(() => jetstreamManager(nc));

  /**
   * The keys with a stored value in a KV bucket, from its stream's per-subject counts (a stream info request).
   * `kv.keys()` iterates an ordered consumer instead, which can wait forever when an entry expires while it runs
   * (heartbeats expire all the time).
   */
  const liveKeys = async (bucket: string): Promise<string[]> => {
    const prefix = `$KV.${bucket}.`;
    const info = await (await jsm()).streams.info(`KV_${bucket}`, { subjects_filter: `${prefix}>` });
    return Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix.length));
  };

  /** A KV watch calling `onEntry` for each entry until stopped (or until the connection ends it). */
  const watchKv = async (kv: KV, include: KvWatchInclude, what: string, onEntry: (entry: KvWatchEntry) => void): Promise<BusWatch> => {
    const iterator = await kv.watch({ include });
    let stopped = false;
    const loop = (async () => {
      for await (const entry of iterator) {
        if (stopped) break;
        try {
          onEntry(entry);
        } catch (error) {
          log.warn(`${what} watch handler failed: ${String(error)}`);
        }
      }
    })().catch((error: unknown) => {
      if (!stopped) log.warn(`${what} watch ended: ${String(error)}`);
    });
    const watch: BusWatch = {
      async stop() {
        if (stopped) return;
        stopped = true;
        watches.delete(watch);
        iterator.stop();
        await loop;
      },
    };
    watches.add(watch);
    return watch;
  };

  const cancels: JobCancels = {
    async request(jobId) {
      ensureOpen();
      checkKeyToken("jobId", jobId);
      await guarded(`requesting the cancellation of job ${jobId}`, async () => {
        await (await cancelsKv()).put(jobId, JSON.stringify({ at: new Date().toISOString() }));
      });
    },
    async isRequested(jobId) {
      ensureOpen();
      checkKeyToken("jobId", jobId);
      return guarded(`reading the cancellation of job ${jobId}`, async () => {
        const entry = await (await cancelsKv()).get(jobId);
        return entry !== null && entry.operation === "PUT";
      });
    },
    async watch(handler) {
      ensureOpen();
      return guarded("watching cancellations", async () =>
        watchKv(await cancelsKv(), KvWatchInclude.LastValue, "cancel", (entry) => {
          if (entry.operation === "PUT") handler(entry.key);
        }),
      );
    },
  };

  const parseValue = (runnerId: string, bytes: Uint8Array): unknown => {
    try {
      return JSON.parse(decoder.decode(bytes));
    } catch {
      log.warn(`runner heartbeat ${runnerId} is not JSON`);
      return null;
    }
  };

  const runners: RunnerHeartbeats = {
    async put(runnerId, heartbeat) {
      ensureOpen();
      checkKeyToken("runnerId", runnerId);
      await guarded(`writing the heartbeat of runner ${runnerId}`, async () => {
        await (await runnersKv()).put(runnerId, JSON.stringify(heartbeat));
      });
    },
    async delete(runnerId) {
      ensureOpen();
      checkKeyToken("runnerId", runnerId);
      await guarded(`removing the heartbeat of runner ${runnerId}`, async () => {
        await (await runnersKv()).delete(runnerId);
      });
    },
    async list() {
      ensureOpen();
      return guarded("listing runner heartbeats", async () => {
        const kv = await runnersKv();
        const out = [];
        for (const key of await liveKeys(names.runnersBucket)) {
          const entry = await kv.get(key);
          if (!entry || entry.operation !== "PUT") continue;
          out.push({ runnerId: key, heartbeat: parseValue(key, entry.value) });
        }
        return out.sort((a, b) => (a.runnerId < b.runnerId ? -1 : a.runnerId > b.runnerId ? 1 : 0));
      });
    },
    async watch(handler) {
      ensureOpen();
      return guarded("watching runner heartbeats", async () =>
        watchKv(await runnersKv(), KvWatchInclude.UpdatesOnly, "heartbeat", (entry) => {
          handler({ runnerId: entry.key, heartbeat: entry.operation === "PUT" ? parseValue(entry.key, entry.value) : null });
        }),
      );
    },
  };

  const toInfo = (info: ObjectInfo): ArtifactInfo => ({ key: info.name, sizeBytes: info.size, modified: new Date(info.mtime) });

  const artifacts: ArtifactBucket = {
    async put(key, data) {
      ensureOpen();
      checkArtifactKey(key);
      return guarded(`storing artifact ${key}`, async () => {
        const store = await objectStore();
        const hash = createHash("sha256");
        let sizeBytes = 0;
        const chunks = artifactChunks(data);
        const stream = new ReadableStream<Uint8Array>({
          async pull(controller) {
            const next = await chunks.next();
            if (next.done) {
              controller.close();
              return;
            }
            hash.update(next.value);
            sizeBytes += next.value.byteLength;
            controller.enqueue(next.value);
          },
          async cancel() {
            await chunks.return(undefined);
          },
        });
        await store.put({ name: key }, stream);
        return { key, sha256: hash.digest("hex"), sizeBytes };
      });
    },
    async get(key) {
      ensureOpen();
      checkArtifactKey(key);
      const result = await guarded(`reading artifact ${key}`, async () => (await objectStore()).get(key));
      if (result === null) return null;
      result.error.catch(() => undefined); // surfaced by the stream below
      return (async function* () {
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
      })();
    },
    async info(key) {
      ensureOpen();
      checkArtifactKey(key);
      return guarded(`reading artifact ${key}`, async () => {
        const info = await (await objectStore()).info(key);
        return info === null || info.deleted ? null : toInfo(info);
      });
    },
    async delete(key) {
      ensureOpen();
      checkArtifactKey(key);
      return guarded(`deleting artifact ${key}`, async () => {
        const store = await objectStore();
        const info = await store.info(key);
        if (info === null || info.deleted) return false;
        await store.delete(key);
        return true;
      });
    },
    async list(prefix = "") {
      ensureOpen();
      return guarded("listing artifacts", async () => {
        const infos = await (await objectStore()).list();
        return infos
          .filter((info) => !info.deleted && info.name.startsWith(prefix))
          .map(toInfo)
          .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      });
    },
  };

  return {
    cancels,
    runners,
    artifacts,
    async stopWatches() {
      await Promise.all([...watches].map((w) => w.stop()));
    },
  };
}
