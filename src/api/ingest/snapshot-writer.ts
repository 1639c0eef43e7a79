/**
 * @module api/ingest/snapshot-writer — a `SnapshotWriter` (services/deps.ts) that stores dataset snapshots in the
 * bus's artifact store (`bus.artifacts`: object store `artifacts` on NATS), where runners fetch them
 * (`obj://artifacts/<key>`), streaming as it goes, and the `ModelFileStore` of model uploads in the same bucket.
 * Deletes accept only `obj://<bucket>/<key>` locations of that bucket (anything else: false, nothing deleted); a
 * missing object counts as deleted.
 */
import { createReadStream } from "node:fs";
import type { ArtifactBucket } from "../../bus/index.ts";
import type { ModelFileStore, SnapshotWriter } from "../services/deps.ts";

/** The object key of `location` when it is `obj://<bucketName>/<key>`, else null. */
function keyInBucket(location: string, bucketName: string): string | null {
  const prefix = `obj://${bucketName}/`;
  return location.startsWith(prefix) && location.length > prefix.length ? location.slice(prefix.length) : null;
}

/** Deletes the object at `location` when it is in the bucket; a missing object counts as deleted. */
async function deleteObjectAt(store: ArtifactBucket, bucketName: string, location: string): Promise<boolean> {
  const key = keyInBucket(location, bucketName);
  if (key === null) return false;
  await store.delete(key); // false for a missing object
  return true;
}

/** Deletes every object whose name starts with `keyPrefix`; returns how many. */
async function deleteObjectsUnder(store: ArtifactBucket, keyPrefix: string): Promise<number> {
  const keys = (await store.list(keyPrefix)).map((info) => info.key);
  for (const key of keys) await store.delete(key);
  return keys.length;
}

/** `bucketName` is the bucket locations name (`obj://<bucketName>/<key>`), "artifacts" as runners announce it. */
export function objectStoreSnapshotWriter(store: ArtifactBucket, bucketName = "artifacts"): SnapshotWriter {
  return {
    deleteSnapshot: (location) => deleteObjectAt(store, bucketName, location),
    async putSnapshot(key, lines) {
      const stored = await store.put(key, lines);
      return { location: `obj://${bucketName}/${key}`, sha256: stored.sha256, sizeBytes: stored.sizeBytes };
    },
  };
}

/** A `ModelFileStore` that streams model uploads into the artifact store (`obj://<bucket>/<key>`), so runners on
 *  any host fetch them (and cache them by digest). */
export function objectStoreModelFileStore(store: ArtifactBucket, bucketName = "artifacts"): ModelFileStore {
  return {
    deleteModelFile: (location) => deleteObjectAt(store, bucketName, location),
    deleteModelFiles: (keyPrefix) => deleteObjectsUnder(store, keyPrefix),
    async putModelFile(key, path) {
      await store.put(key, createReadStream(path, { highWaterMark: 1 << 20 }));
      return { location: `obj://${bucketName}/${key}` };
    },
  };
}

/** The dataset snapshot and model file stores on the server's bus (`bus.artifacts`), where every runner of that bus
 *  reads them: `npm start` registers it after the local defaults (services/context.ts). */
export function busArtifactServices(store: ArtifactBucket): { datasetSnapshots: SnapshotWriter; modelFiles: ModelFileStore } {
  return { datasetSnapshots: objectStoreSnapshotWriter(store), modelFiles: objectStoreModelFileStore(store) };
}
