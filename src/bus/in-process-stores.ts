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
import type { RunnerHeartbeat } from "../contracts/index.ts";
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
  type RunnerHeartbeatEntry,
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
  const cancelWatchers = new Watchers<string>("cancel", log);
  const heartbeatWatchers = new Watchers<RunnerHeartbeatChange>("heartbeat", log);
  const store = context.artifactsDir === undefined ? memoryArtifactStore() : folderArtifactStore(context.artifactsDir);
  return {
    cancels: new InProcessCancels(cancelWatchers, ensureOpen),
    runners: new InProcessRunners(context.heartbeatTtlMs, heartbeatWatchers, ensureOpen),
    artifacts: new CheckedArtifacts(store, ensureOpen),
    stopWatches() {
      cancelWatchers.stopAll();
      heartbeatWatchers.stopAll();
    },
  };
}

/** Cancellation requests, kept CANCEL_REQUEST_TTL_MS. */
class InProcessCancels implements JobCancels {
  readonly #requested = new Map<string, number>();
  readonly #watchers: Watchers<string>;
  readonly #ensureOpen: () => void;

  constructor(watchers: Watchers<string>, ensureOpen: () => void) {
    this.#watchers = watchers;
    this.#ensureOpen = ensureOpen;
  }

  async request(jobId: string): Promise<void> {
    this.#ensureOpen();
    checkKeyToken("jobId", jobId);
    this.#live().delete(jobId);
    this.#requested.set(jobId, Date.now());
    this.#watchers.notify(jobId);
  }

  async isRequested(jobId: string): Promise<boolean> {
    this.#ensureOpen();
    checkKeyToken("jobId", jobId);
    return this.#live().has(jobId);
  }

  async watch(handler: (jobId: string) => void): Promise<BusWatch> {
    this.#ensureOpen();
    return this.#watchers.add(handler, [...this.#live().keys()]);
  }

  /** The requests, once those past their TTL are dropped. */
  #live(): Map<string, number> {
    const now = Date.now();
    for (const [jobId, at] of this.#requested) if (now - at > CANCEL_REQUEST_TTL_MS) this.#requested.delete(jobId);
    return this.#requested;
  }
}

/** Runner heartbeats, each gone `heartbeatTtlMs` after its last write. */
class InProcessRunners implements RunnerHeartbeats {
  readonly #heartbeats = new Map<string, { value: unknown; at: number }>();
  readonly #heartbeatTtlMs: number;
  readonly #watchers: Watchers<RunnerHeartbeatChange>;
  readonly #ensureOpen: () => void;

  constructor(heartbeatTtlMs: number, watchers: Watchers<RunnerHeartbeatChange>, ensureOpen: () => void) {
    this.#heartbeatTtlMs = heartbeatTtlMs;
    this.#watchers = watchers;
    this.#ensureOpen = ensureOpen;
  }

  async put(runnerId: string, heartbeat: RunnerHeartbeat): Promise<void> {
    this.#ensureOpen();
    checkKeyToken("runnerId", runnerId);
    const value = roundTrip(heartbeat);
    this.#heartbeats.set(runnerId, { value, at: Date.now() });
    this.#watchers.notify({ runnerId, heartbeat: roundTrip(value) });
  }

  async delete(runnerId: string): Promise<void> {
    this.#ensureOpen();
    checkKeyToken("runnerId", runnerId);
    this.#heartbeats.delete(runnerId);
    this.#watchers.notify({ runnerId, heartbeat: null });
  }

  async list(): Promise<RunnerHeartbeatEntry[]> {
    this.#ensureOpen();
    const now = Date.now();
    const out = [];
    for (const [runnerId, entry] of this.#heartbeats) {
      if (now - entry.at >= this.#heartbeatTtlMs) this.#heartbeats.delete(runnerId);
      else out.push({ runnerId, heartbeat: roundTrip(entry.value) });
    }
    return out.sort((a, b) => compare(a.runnerId, b.runnerId));
  }

  async watch(handler: (change: RunnerHeartbeatChange) => void): Promise<BusWatch> {
    this.#ensureOpen();
    return this.#watchers.add(handler);
  }
}

/** The bus's `artifacts`: a store behind the closed check and the key check, listed in key order. */
class CheckedArtifacts implements ArtifactBucket {
  readonly #store: ArtifactBucket;
  readonly #ensureOpen: () => void;

  constructor(store: ArtifactBucket, ensureOpen: () => void) {
    this.#store = store;
    this.#ensureOpen = ensureOpen;
  }

  async put(key: string, data: ArtifactSource): Promise<StoredArtifact> {
    this.#ensureOpen();
    return this.#store.put(checkArtifactKey(key), data);
  }

  async get(key: string): Promise<AsyncIterable<Uint8Array> | null> {
    this.#ensureOpen();
    return this.#store.get(checkArtifactKey(key));
  }

  async info(key: string): Promise<ArtifactInfo | null> {
    this.#ensureOpen();
    return this.#store.info(checkArtifactKey(key));
  }

  async delete(key: string): Promise<boolean> {
    this.#ensureOpen();
    return this.#store.delete(checkArtifactKey(key));
  }

  async list(prefix = ""): Promise<ArtifactInfo[]> {
    this.#ensureOpen();
    return (await this.#store.list(prefix)).sort((a, b) => compare(a.key, b.key));
  }
}

/** Copies `bytes` out in chunks of at most ARTIFACT_CHUNK_BYTES. */
async function* chunked(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.byteLength; offset += ARTIFACT_CHUNK_BYTES) {
    yield bytes.slice(offset, Math.min(bytes.byteLength, offset + ARTIFACT_CHUNK_BYTES));
  }
}

/** Artifacts in a Map: a put becomes visible once all of its bytes arrived. */
export function memoryArtifactStore(): ArtifactBucket {
  return new MemoryArtifacts();
}

interface MemoryObject {
  readonly bytes: Uint8Array;
  readonly modified: Date;
}

class MemoryArtifacts implements ArtifactBucket {
  readonly #objects = new Map<string, MemoryObject>();

  async put(key: string, data: ArtifactSource): Promise<StoredArtifact> {
    const hash = createHash("sha256");
    const parts: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of artifactChunks(data)) {
      hash.update(chunk);
      parts.push(chunk.slice());
      size += chunk.byteLength;
    }
    this.#objects.set(key, { bytes: concat(parts, size), modified: new Date() });
    return { key, sha256: hash.digest("hex"), sizeBytes: size };
  }

  async get(key: string): Promise<AsyncIterable<Uint8Array> | null> {
    const object = this.#objects.get(key);
    return object ? chunked(object.bytes) : null;
  }

  async info(key: string): Promise<ArtifactInfo | null> {
    const object = this.#objects.get(key);
    return object ? memoryInfo(key, object) : null;
  }

  async delete(key: string): Promise<boolean> {
    return this.#objects.delete(key);
  }

  async list(prefix = ""): Promise<ArtifactInfo[]> {
    return [...this.#objects].filter(([key]) => key.startsWith(prefix)).map(([key, object]) => memoryInfo(key, object));
  }
}

function memoryInfo(key: string, object: MemoryObject): ArtifactInfo {
  return { key, sizeBytes: object.bytes.byteLength, modified: new Date(object.modified) };
}

function concat(parts: readonly Uint8Array[], size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return bytes;
}

const SUFFIX = ".artifact";
const encodeSegment = (segment: string) => encodeURIComponent(segment).replace(/\./g, "%2E");

/** Artifacts as files under `root` (see the module comment for the layout). */
export function folderArtifactStore(root: string): ArtifactBucket {
  return new FolderArtifacts(resolve(root));
}

class FolderArtifacts implements ArtifactBucket {
  readonly #base: string;

  constructor(base: string) {
    this.#base = base;
  }

  async put(key: string, data: ArtifactSource): Promise<StoredArtifact> {
    const path = this.#pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    const handle = await open(temporary, "w");
    try {
      const written = await writeChunks(handle, data);
      await rename(temporary, path);
      return { key, ...written };
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  async get(key: string): Promise<AsyncIterable<Uint8Array> | null> {
    let handle: FileHandle;
    try {
      handle = await open(this.#pathOf(key), "r");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") return null;
      throw error;
    }
    return fileChunks(handle);
  }

  async info(key: string): Promise<ArtifactInfo | null> {
    const found = await fileStat(this.#pathOf(key));
    return found ? { key, sizeBytes: found.size, modified: found.mtime } : null;
  }

  async delete(key: string): Promise<boolean> {
    const path = this.#pathOf(key);
    if (!(await fileStat(path))) return false;
    await rm(path, { force: true });
    await this.#pruneEmptyParents(dirname(path));
    return true;
  }

  async list(prefix = ""): Promise<ArtifactInfo[]> {
    const entries = await readdir(this.#base, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return [] as string[];
      throw error;
    });
    const out: ArtifactInfo[] = [];
    for (const entry of entries) {
      const key = keyOf(entry);
      if (key === null || !key.startsWith(prefix)) continue;
      const found = await fileStat(join(this.#base, entry));
      if (found) out.push({ key, sizeBytes: found.size, modified: found.mtime });
    }
    return out;
  }

  #pathOf(key: string): string {
    const segments = key.split("/").map(encodeSegment);
    segments[segments.length - 1] += SUFFIX;
    return join(this.#base, ...segments);
  }

  /** Removes the folders above a deleted file that became empty, up to (not including) the root. */
  async #pruneEmptyParents(dir: string): Promise<void> {
    for (let current = dir; current.startsWith(this.#base + sep); current = dirname(current)) {
      try {
        await rmdir(current);
      } catch {
        return;
      }
    }
  }
}

/** The key of a file's path relative to the root, or null when it is not an artifact file. */
function keyOf(relativePath: string): string | null {
  if (!relativePath.endsWith(SUFFIX)) return null;
  try {
    return relativePath.slice(0, -SUFFIX.length).split(sep).map(decodeURIComponent).join("/");
  } catch {
    return null;
  }
}

/** The file's stats, or null when there is no file at `path`. */
async function fileStat(path: string) {
  const found = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT" || error.code === "ENOTDIR") return null;
    throw error;
  });
  return found?.isFile() ? found : null;
}

/** Writes the chunks to `handle` and closes it (on failure too); their sha256 and size. */
async function writeChunks(handle: FileHandle, data: ArtifactSource): Promise<{ sha256: string; sizeBytes: number }> {
  const hash = createHash("sha256");
  let sizeBytes = 0;
  try {
    for await (const chunk of artifactChunks(data)) {
      hash.update(chunk);
      sizeBytes += chunk.byteLength;
      await handle.write(chunk);
    }
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
  await handle.close();
  return { sha256: hash.digest("hex"), sizeBytes };
}

/** The file's bytes in chunks of at most ARTIFACT_CHUNK_BYTES; the file is closed at the end or on a break. */
async function* fileChunks(handle: FileHandle): AsyncGenerator<Uint8Array> {
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
}
