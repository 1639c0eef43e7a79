/**
 * @module api/ingest/snapshot-writer — a `SnapshotWriter` (services/deps.ts) that stores dataset snapshots in the
 * NATS object store `artifacts`, where runners fetch them (`obj://artifacts/<key>`), streaming and hashing as it
 * goes, and the `ModelFileStore` of model uploads in the same bucket. Deletes accept only `obj://<bucket>/<key>`
 * locations of that bucket (anything else: false, nothing deleted); a missing object counts as deleted.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import type { ObjectStore } from "@nats-io/obj";
import type { ModelFileStore, SnapshotWriter } from "../services/deps.ts";

/** The object key of `location` when it is `obj://<bucketName>/<key>`, else null. */
function keyInBucket(location: string, bucketName: string): string | null {
  const prefix = `obj://${bucketName}/`;
  return location.startsWith(prefix) && location.length > prefix.length ? location.slice(prefix.length) : null;
}

/** Deletes the object at `location` when it is in the bucket; a missing object counts as deleted. */
async function deleteObjectAt(store: ObjectStore, bucketName: string, location: string): Promise<boolean> {
  const key = keyInBucket(location, bucketName);
  if (key === null) return false;
  await store.delete(key); // resolves { success: false } for a missing object
  return true;
}

/** Deletes every object whose name starts with `keyPrefix`; returns how many. */
async function deleteObjectsUnder(store: ObjectStore, keyPrefix: string): Promise<number> {
  const names = (await store.list()).map((info) => info.name).filter((name) => name.startsWith(keyPrefix));
  for (const name of names) await store.delete(name);
  return names.length;
}

export function objectStoreSnapshotWriter(store: ObjectStore, bucketName = "artifacts"): SnapshotWriter {
  return {
    deleteSnapshot: (location) => deleteObjectAt(store, bucketName, location),
    async putSnapshot(key, lines) {
      const hash = createHash("sha256");
      let sizeBytes = 0;
      const iterator = lines[Symbol.asyncIterator]();
      const stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const next = await iterator.next();
          if (next.done) {
            controller.close();
            return;
          }
          hash.update(next.value);
          sizeBytes += next.value.byteLength;
          controller.enqueue(next.value);
        },
      });
      await store.put({ name: key }, stream);
      return { location: `obj://${bucketName}/${key}`, sha256: hash.digest("hex"), sizeBytes };
    },
  };
}

/** A `ModelFileStore` that streams model uploads into the object store (`obj://<bucket>/<key>`), so runners on
 *  any host fetch them (and cache them by digest). */
export function objectStoreModelFileStore(store: ObjectStore, bucketName = "artifacts"): ModelFileStore {
  return {
    deleteModelFile: (location) => deleteObjectAt(store, bucketName, location),
    deleteModelFiles: (keyPrefix) => deleteObjectsUnder(store, keyPrefix),
    async putModelFile(key, path) {
      await store.put({ name: key }, Readable.toWeb(createReadStream(path, { highWaterMark: 1 << 20 })) as ReadableStream<Uint8Array>);
      return { location: `obj://${bucketName}/${key}` };
    },
  };
}
