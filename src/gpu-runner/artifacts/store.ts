/**
 * @module gpu-runner/artifacts/store — the runner's view of the artifact store (model files, dataset snapshots,
 * checkpoints, adapters) in whole byte arrays, over the bus's artifact facet (`bus.artifacts`: the NATS object store,
 * the in-process store, or the api's over IPC). Keys are object names in bucket `artifacts`; a location
 * `obj://artifacts/<key>` names one. `put` replaces an object of the same key (checkpoints use one key per job).
 */
import { readArtifact, type ArtifactBucket, type StoredArtifact } from "../../bus/index.ts";
import { sha256Hex } from "../../formats/index.ts";

export type { StoredArtifact };

export interface ArtifactStore {
  put(key: string, bytes: Uint8Array): Promise<StoredArtifact>;
  /** The object's bytes, or null when there is none. */
  get(key: string): Promise<Uint8Array | null>;
  delete(key: string): Promise<void>;
}

export { sha256Hex };

/** The object store failed (not "missing": that is `get` → null). */
export class ArtifactStoreError extends Error {
  override readonly name = "ArtifactStoreError";
  readonly code = "ARTIFACT_STORE_FAILED" as const;
}

function storeError(action: string, key: string, cause: unknown): ArtifactStoreError {
  return new ArtifactStoreError(`${action} artifact ${key}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
}

export function busArtifactStore(bucket: ArtifactBucket): ArtifactStore {
  return {
    async put(key, bytes) {
      try {
        return await bucket.put(key, bytes);
      } catch (error) {
        throw storeError("storing", key, error);
      }
    },
    async get(key) {
      try {
        const stream = await bucket.get(key);
        return stream === null ? null : await readArtifact(stream);
      } catch (error) {
        throw storeError("reading", key, error);
      }
    },
    async delete(key) {
      try {
        await bucket.delete(key);
      } catch (error) {
        throw storeError("deleting", key, error);
      }
    },
  };
}

/** An in-memory store (single-process runs and unit tests). */
export function memoryArtifacts(): ArtifactStore & { readonly keys: () => string[] } {
  const objects = new Map<string, Uint8Array>();
  return {
    keys: () => [...objects.keys()],
    async put(key, bytes) {
      objects.set(key, bytes.slice());
      return { key, sha256: sha256Hex(bytes), sizeBytes: bytes.byteLength };
    },
    async get(key) {
      const found = objects.get(key);
      return found ? found.slice() : null;
    },
    async delete(key) {
      objects.delete(key);
    },
  };
}
