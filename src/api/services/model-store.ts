/** @module api/services/model-store
 *  Local-filesystem implementations of the artifact ports: model uploads (ModelFileStore) and dataset
 *  snapshots (SnapshotWriter) are written under a root folder and announced as `file://` URLs. Runners on the same
 *  host read them directly; a cluster needs that folder shared (or object-store implementations of the ports).
 *  Deletes touch only files strictly inside the root: any other location is refused (false), so a model
 *  registered by location under the model roots is never removed. */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { copyFile, lstat, mkdir, readdir, rename, rm, rmdir } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable, Transform } from "node:stream";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ModelFileStore, SnapshotWriter } from "./deps.ts";

function pathUnder(base: string, key: string): string {
  const path = resolve(join(base, key));
  if (!path.startsWith(base + sep)) throw new Error(`artifact key escapes the store: ${key}`);
  return path;
}

/** The path of a `file://` location strictly inside `base`, else null. */
function localPathIn(base: string, location: string): string | null {
  if (!location.startsWith("file://")) return null;
  let path: string;
  try {
    path = resolve(fileURLToPath(location));
  } catch {
    return null;
  }
  return path.startsWith(base + sep) ? path : null;
}

/** Removes the file at a `file://` location inside `base` (missing is fine), then its emptied parent folders. */
async function deleteLocalFile(base: string, location: string): Promise<boolean> {
  const path = localPathIn(base, location);
  if (path === null) return false;
  await rm(path, { force: true });
  await pruneEmptyParents(base, dirname(path));
  return true;
}

/** Removes `dir` and its parents up to (not including) `base` while they are empty. */
async function pruneEmptyParents(base: string, dir: string): Promise<void> {
  for (let current = dir; current.startsWith(base + sep); current = dirname(current)) {
    try {
      await rmdir(current);
    } catch {
      return;
    }
  }
}

/** Deletes every file under `base` whose key (path relative to `base`, `/`-separated) starts with `keyPrefix`. */
async function deleteLocalKeys(base: string, keyPrefix: string): Promise<number> {
  const folderKey = keyPrefix.endsWith("/") ? keyPrefix.slice(0, -1) : dirname(keyPrefix);
  const folder = folderKey === "." || folderKey === "" ? base : pathUnder(base, folderKey);
  const entries = await readdir(folder, { recursive: true }).catch(() => [] as string[]);
  let deleted = 0;
  for (const entry of entries) {
    const path = join(folder, entry);
    const key = relative(base, path).split(sep).join("/");
    if (!key.startsWith(keyPrefix) || !(await lstat(path).catch(() => null))?.isFile()) continue;
    await rm(path, { force: true });
    await pruneEmptyParents(base, dirname(path));
    deleted++;
  }
  return deleted;
}

export function createLocalModelFileStore(root: string): ModelFileStore {
  const base = resolve(root);
  return {
    deleteModelFile: (location) => deleteLocalFile(base, location),
    deleteModelFiles: (keyPrefix) => deleteLocalKeys(base, keyPrefix),
    async putModelFile(key, source) {
      const path = pathUnder(base, key);
      await mkdir(dirname(path), { recursive: true });
      const partial = `${path}.partial-${process.pid}-${Date.now()}`;
      try {
        await copyFile(source, partial);
        await rename(partial, path);
      } catch (error) {
        await rm(partial, { force: true });
        throw error;
      }
      return { location: pathToFileURL(path).href };
    },
  };
}

/**
 * A SnapshotWriter on the local filesystem: the snapshot is streamed to a temporary file, hashed on the way, and
 * renamed into place, so a reader never sees a partial snapshot.
 */
export function createLocalSnapshotWriter(root: string): SnapshotWriter {
  const base = resolve(root);
  return {
    deleteSnapshot: (location) => deleteLocalFile(base, location),
    async putSnapshot(key, lines) {
      const path = pathUnder(base, key);
      await mkdir(dirname(path), { recursive: true });
      const partial = `${path}.partial-${process.pid}-${Date.now()}`;
      const hash = createHash("sha256");
      let sizeBytes = 0;
      const tap = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          sizeBytes += chunk.length;
          done(null, chunk);
        },
      });
      try {
        await pipeline(Readable.from(lines), tap, createWriteStream(partial));
        await rename(partial, path);
      } catch (error) {
        await rm(partial, { force: true });
        throw error;
      }
      return { location: pathToFileURL(path).href, sha256: hash.digest("hex"), sizeBytes };
    },
  };
}
