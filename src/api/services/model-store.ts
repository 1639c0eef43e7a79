/** @module api/services/model-store
 *  Local-filesystem implementations of the artifact ports: model uploads (ModelFileStore) and dataset
 *  snapshots (SnapshotWriter) are written under a root folder and announced as `file://` URLs. Runners on the same
 *  host read them directly; a cluster needs that folder shared (or object-store implementations of the ports). */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { copyFile, mkdir, rename, rm } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable, Transform } from "node:stream";
import { pathToFileURL } from "node:url";
import type { ModelFileStore, SnapshotWriter } from "./deps.ts";

function pathUnder(base: string, key: string): string {
  const path = resolve(join(base, key));
  if (!path.startsWith(base + sep)) throw new Error(`artifact key escapes the store: ${key}`);
  return path;
}

export function createLocalModelFileStore(root: string): ModelFileStore {
  const base = resolve(root);
  return {
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
