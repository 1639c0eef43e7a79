/**
 * @module gpu-runner/artifacts/store — the artifact store port (model files, dataset snapshots, checkpoints,
 * adapters) and its NATS object-store implementation. Keys are object names in bucket `artifacts`; a location
 * `obj://artifacts/<key>` names one. `put` replaces an object of the same key (checkpoints use one key per job).
 */
import { createHash } from "node:crypto";
import type { ObjectStore } from "@nats-io/obj";

export interface StoredArtifact {
  readonly key: string;
  /** Lowercase hex sha256 of the bytes. */
  readonly sha256: string;
  readonly sizeBytes: number;
}

export interface ArtifactStore {
  put(key: string, bytes: Uint8Array): Promise<StoredArtifact>;
  /** The object's bytes, or null when there is none. */
  get(key: string): Promise<Uint8Array | null>;
  delete(key: string): Promise<void>;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The object store failed (not "missing": that is `get` → null). */
export class ArtifactStoreError extends Error {
  override readonly name = "ArtifactStoreError";
  readonly code = "ARTIFACT_STORE_FAILED" as const;
}

function storeError(action: string, key: string, cause: unknown): ArtifactStoreError {
  return new ArtifactStoreError(`${action} artifact ${key}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
}

export function objectStoreArtifacts(store: ObjectStore): ArtifactStore {
  return {
    async put(key, bytes) {
      try {
        await store.putBlob({ name: key }, bytes);
      } catch (error) {
        throw storeError("storing", key, error);
      }
      return { key, sha256: sha256Hex(bytes), sizeBytes: bytes.byteLength };
    },
    async get(key) {
      try {
        return await store.getBlob(key);
      } catch (error) {
        throw storeError("reading", key, error);
      }
    },
    async delete(key) {
      try {
        await store.delete(key);
      } catch (error) {
        if (/not found/i.test(String(error))) return;
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
