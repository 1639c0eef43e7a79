/**
 * @module api/ingest/snapshot-writer — a `SnapshotWriter` (services/deps.ts) that stores dataset snapshots in the
 * NATS object store `artifacts`, where runners fetch them (`obj://artifacts/<key>`), streaming and hashing as it
 * goes.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import type { ObjectStore } from "@nats-io/obj";
import type { ModelFileStore, SnapshotWriter } from "../services/deps.ts";

export function objectStoreSnapshotWriter(store: ObjectStore, bucketName = "artifacts"): SnapshotWriter {
  return {
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
    async putModelFile(key, path) {
      await store.put({ name: key }, Readable.toWeb(createReadStream(path, { highWaterMark: 1 << 20 })) as ReadableStream<Uint8Array>);
      return { location: `obj://${bucketName}/${key}` };
    },
  };
}
