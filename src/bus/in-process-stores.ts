/**
 * @module bus/in-process-stores — the bus facets inside one process, with the semantics of their NATS buckets:
 * cancellation requests kept 24 h (a watch replays the stored ones, then follows), runner heartbeats that vanish
 * `heartbeatTtlMs` after their last write (silently, as KV max_age does; a watch sees writes and removals only),
 * and an artifact store in memory or under a folder.
 *
 * The folder store keeps one file per key: each `/`-separated segment is URI-encoded with "." also encoded (so a
 * segment is never "." or ".." and never ends like a file), the last one gets the suffix `.artifact`. A write goes
 * to a temporary file beside it and is renamed into place, so readers see the old object or the new one, whole.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, rename, rm, rmdir, stat, type FileHandle } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import {
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
  type RunnerHeartbeats,
  type StoredArtifact,
} from "./types.ts";

/** Largest chunk an artifact stream yields. */
export const ARTIFACT_CHUNK_BYTES = 1 << 20;

export interface InProcessStores {
  readonly cancels: JobCancels;
  readonly runners: RunnerHeartbeats;
  readonly artifacts: ArtifactBucket;
  stopWatches(): void;
}

interface StoreContext {
  readonly heartbeatTtlMs: number;
  /** Artifacts under this folder (created on first write); absent: in memory. */
  readonly artifactsDir?: string;
  readonly log: BusLogger;
  readonly ensureOpen: () => void;
}

/** Calls handlers one after another, asynchronously and in order, until stopped. */
class Watchers<T> {
  private readonly watchers = new Set<{ handler: (value: T) => void; stopped: boolean }>();
  constructor(
    private readonly what: string,
    private readonly log: BusLogger,
  ) {}

  add(handler: (value: T) => void, initial: readonly T[] = []): BusWatch {
    const watcher = { handler, stopped: false };
    this.watchers.add(watcher);
    for (const value of initial) this.deliver(watcher, value);
    return {
      stop: async () => {
        watcher.stopped = true;
        this.watchers.delete(watcher);
      },
    };
  }

  notify(value: T): void {
    for (const watcher of this.watchers) this.deliver(watcher, value);
  }

  stopAll(): void {
    for (const watcher of this.watchers) watcher.stopped = true;
    this.watchers.clear();
  }

  private deliver(watcher: { handler: (value: T) => void; stopped: boolean }, value: T): void {
    queueMicrotask(() => {
      if (watcher.stopped) return;
      try {
        watcher.handler(value);
      } catch (error) {
        this.log.warn(`${this.what} watch handler failed: ${String(error)}`);
      }
    });
  }
}

function roundTrip(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

const compare = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);

export function inProcessStores(context: StoreContext): InProcessStores {
  const { log, ensureOpen } = context;

  // ---- cancellation requests --------------------------------------------------------------------------------
  const cancelled = new Map<string, number>();
  const cancelWatchers = new Watchers<string>("cancel", log);
  const liveCancels = () => {
    const now = Date.now();
    for (const [jobId, at] of cancelled) if (now - at > CANCEL_REQUEST_TTL_MS) cancelled.delete(jobId);
    return cancelled;
  };
  const cancels: JobCancels = {
    async request(jobId) {
      ensureOpen();
      checkKeyToken("jobId", jobId);
      liveCancels().delete(jobId);
      cancelled.set(jobId, Date.now());
      cancelWatchers.notify(jobId);
    },
    async isRequested(jobId) {
      ensureOpen();
      checkKeyToken("jobId", jobId);
      return liveCancels().has(jobId);
    },
    async watch(handler) {
      ensureOpen();
      return cancelWatchers.add(handler, [...liveCancels().keys()]);
    },
  };

  // ---- runner heartbeats ------------------------------------------------------------------------------------
  const heartbeats = new Map<string, { value: unknown; at: number }>();
  const heartbeatWatchers = new Watchers<RunnerHeartbeatChange>("heartbeat", log);
  const runners: RunnerHeartbeats = {
    async put(runnerId, heartbeat) {
      ensureOpen();
      checkKeyToken("runnerId", runnerId);
      const value = roundTrip(heartbeat);
      heartbeats.set(runnerId, { value, at: Date.now() });
      heartbeatWatchers.notify({ runnerId, heartbeat: roundTrip(value) });
    },
    async delete(runnerId) {
      ensureOpen();
      checkKeyToken("runnerId", runnerId);
      heartbeats.delete(runnerId);
      heartbeatWatchers.notify({ runnerId, heartbeat: null });
    },
    async list() {
      ensureOpen();
      const now = Date.now();
      const out = [];
      for (const [runnerId, entry] of heartbeats) {
        if (now - entry.at >= context.heartbeatTtlMs) heartbeats.delete(runnerId);
        else out.push({ runnerId, heartbeat: roundTrip(entry.value) });
      }
      return out.sort((a, b) => compare(a.runnerId, b.runnerId));
    },
    async watch(handler) {
      ensureOpen();
      return heartbeatWatchers.add(handler);
    },
  };

  const store = context.artifactsDir === undefined ? memoryArtifactStore() : folderArtifactStore(context.artifactsDir);
  const artifacts: ArtifactBucket = {
    async put(key, data) {
      ensureOpen();
      return store.put(checkArtifactKey(key), data);
    },
    async get(key) {
      ensureOpen();
      return store.get(checkArtifactKey(key));
    },
    async info(key) {
      ensureOpen();
      return store.info(checkArtifactKey(key));
    },
    async delete(key) {
      ensureOpen();
      return store.delete(checkArtifactKey(key));
    },
    async list(prefix = "") {
      ensureOpen();
      return (await store.list(prefix)).sort((a, b) => compare(a.key, b.key));
    },
  };

  return {
    cancels,
    runners,
    artifacts,
    stopWatches() {
      cancelWatchers.stopAll();
      heartbeatWatchers.stopAll();
    },
  };
}

/** Copies `bytes` out in chunks of at most ARTIFACT_CHUNK_BYTES. */
async function* chunked(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.byteLength; offset += ARTIFACT_CHUNK_BYTES) {
    yield bytes.slice(offset, Math.min(bytes.byteLength, offset + ARTIFACT_CHUNK_BYTES));
  }
}

/** Artifacts in a Map: a put becomes visible once all of its bytes arrived. */
export function memoryArtifactStore(): ArtifactBucket {
  const objects = new Map<string, { bytes: Uint8Array; modified: Date }>();
  const info = (key: string, object: { bytes: Uint8Array; modified: Date }): ArtifactInfo => ({ key, sizeBytes: object.bytes.byteLength, modified: new Date(object.modified) });
  return {
    async put(key, data) {
      const hash = createHash("sha256");
      const parts: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of artifactChunks(data)) {
        hash.update(chunk);
        parts.push(chunk.slice());
        size += chunk.byteLength;
      }
      const bytes = new Uint8Array(size);
      let offset = 0;
      for (const part of parts) {
        bytes.set(part, offset);
        offset += part.byteLength;
      }
      objects.set(key, { bytes, modified: new Date() });
      return { key, sha256: hash.digest("hex"), sizeBytes: size };
    },
    async get(key) {
      const object = objects.get(key);
      return object ? chunked(object.bytes) : null;
    },
    async info(key) {
      const object = objects.get(key);
      return object ? info(key, object) : null;
    },
    async delete(key) {
      return objects.delete(key);
    },
    async list(prefix = "") {
      return [...objects].filter(([key]) => key.startsWith(prefix)).map(([key, object]) => info(key, object));
    },
  };
}

const SUFFIX = ".artifact";
const encodeSegment = (segment: string) => encodeURIComponent(segment).replace(/\./g, "%2E");

/** Artifacts as files under `root` (see the module comment for the layout). */
export function folderArtifactStore(root: string): ArtifactBucket {
  const base = resolve(root);
  const pathOf = (key: string) => {
    const segments = key.split("/").map(encodeSegment);
    segments[segments.length - 1] += SUFFIX;
    return join(base, ...segments);
  };
  const keyOf = (relativePath: string): string | null => {
    if (!relativePath.endsWith(SUFFIX)) return null;
    try {
      return relativePath.slice(0, -SUFFIX.length).split(sep).map(decodeURIComponent).join("/");
    } catch {
      return null;
    }
  };
  const statOf = async (path: string) => {
    const found = await stat(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT" || error.code === "ENOTDIR") return null;
      throw error;
    });
    return found?.isFile() ? found : null;
  };
  const pruneEmptyParents = async (dir: string) => {
    for (let current = dir; current.startsWith(base + sep); current = dirname(current)) {
      try {
        await rmdir(current);
      } catch {
        return;
      }
    }
  };

  return {
    async put(key, data: ArtifactSource): Promise<StoredArtifact> {
      const path = pathOf(key);
      await mkdir(dirname(path), { recursive: true });
      const temporary = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
      const hash = createHash("sha256");
      let sizeBytes = 0;
      let handle: FileHandle | null = await open(temporary, "w");
      try {
        for await (const chunk of artifactChunks(data)) {
          hash.update(chunk);
          sizeBytes += chunk.byteLength;
          await handle.write(chunk);
        }
        await handle.close();
        handle = null;
        await rename(temporary, path);
      } catch (error) {
        await handle?.close().catch(() => undefined);
        await rm(temporary, { force: true });
        throw error;
      }
      return { key, sha256: hash.digest("hex"), sizeBytes };
    },
    async get(key) {
      let handle: FileHandle;
      try {
        handle = await open(pathOf(key), "r");
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") return null;
        throw error;
      }
      return (async function* () {
        try {
          for (;;) {
            const buffer = new Uint8Array(ARTIFACT_CHUNK_BYTES);
            const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, null);
            if (bytesRead === 0) return;
            yield bytesRead === buffer.byteLength ? buffer : buffer.slice(0, bytesRead);
          }
        } finally {
          await handle.close().catch(() => undefined);
        }
      })();
    },
    async info(key) {
      const found = await statOf(pathOf(key));
      return found ? { key, sizeBytes: found.size, modified: found.mtime } : null;
    },
    async delete(key) {
      const path = pathOf(key);
      if (!(await statOf(path))) return false;
      await rm(path, { force: true });
      await pruneEmptyParents(dirname(path));
      return true;
    },
    async list(prefix = "") {
      const entries = await readdir(base, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return [] as string[];
        throw error;
      });
      const out: ArtifactInfo[] = [];
      for (const entry of entries) {
        const key = keyOf(entry);
        if (key === null || !key.startsWith(prefix)) continue;
        const found = await statOf(join(base, entry));
        if (found) out.push({ key, sizeBytes: found.size, modified: found.mtime });
      }
      return out;
    },
  };
}
