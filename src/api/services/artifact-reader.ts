/** @module api/services/artifact-reader
 *  Implementations of the `ArtifactReader` port (deps.ts) that downloads read stored files through:
 *  - `localArtifactReader(root)`: `file://` locations strictly inside `root` (the local upload store), resolved
 *    with realpath so a link cannot lead out of it;
 *  - `bucketArtifactReader(bucket)`: `obj://artifacts/<key>` locations in the bus's artifact store (`bus.artifacts`:
 *    the NATS object store, or the in-process bus's store), where runners write adapters, evaluators, checkpoints
 *    and evaluation reports, and where model uploads and dataset snapshots go with NATS;
 *  - `combineArtifactReaders(...)`: the first reader that knows the location answers.
 *  Any other location (a model registered by location under the model roots, a path elsewhere) reads as missing. */
import { open, realpath } from "node:fs/promises";
import { resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { ArtifactBucket } from "../../bus/index.ts";
import type { ArtifactReader, ArtifactStat } from "./deps.ts";

/** Largest chunk a local file is read in. */
const READ_CHUNK_BYTES = 1 << 20;

function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR" || code === "ELOOP";
}

/** The real path of a `file://` location strictly inside `root` (itself resolved), else null. */
async function realPathInside(root: string, location: string): Promise<string | null> {
  if (!location.startsWith("file://")) return null;
  let path: string;
  try {
    path = resolve(fileURLToPath(location));
  } catch {
    return null;
  }
  const base = resolve(root);
  if (!path.startsWith(base + sep)) return null;
  try {
    const [realBase, real] = await Promise.all([realpath(base), realpath(path)]);
    return real.startsWith(realBase + sep) ? real : null;
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
}

/** Reads `file://` locations inside `root` (see the module comment). */
export function localArtifactReader(root: string): ArtifactReader {
  const openFile = async (location: string) => {
    const path = await realPathInside(root, location);
    if (path === null) return null;
    try {
      const handle = await open(path, "r");
      const stats = await handle.stat().catch(async (error: unknown) => {
        await handle.close();
        throw error;
      });
      if (!stats.isFile()) {
        await handle.close();
        return null;
      }
      return { handle, sizeBytes: stats.size };
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  };
  return {
    async statArtifact(location): Promise<ArtifactStat | null> {
      const file = await openFile(location);
      if (file === null) return null;
      await file.handle.close();
      return { sizeBytes: file.sizeBytes };
    },
    async openArtifact(location) {
      const file = await openFile(location);
      // autoClose: the handle closes when the stream ends or is destroyed (a consumer that breaks off).
      return file === null ? null : file.handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES, autoClose: true });
    },
  };
}

/** The object key of `obj://<bucketName>/<key>`, else null. */
export function objectKeyOf(location: string, bucketName = "artifacts"): string | null {
  const prefix = `obj://${bucketName}/`;
  return location.startsWith(prefix) && location.length > prefix.length ? location.slice(prefix.length) : null;
}

/** An object key the artifact store accepts (see bus checkArtifactKey); anything else reads as missing. */
function plausibleKey(key: string): boolean {
  return key.length <= 1024 && !key.startsWith("/") && !key.endsWith("/") && !key.includes("//") && !key.includes("\0");
}

/** Reads `obj://<bucketName>/<key>` locations from the artifact store. */
export function bucketArtifactReader(bucket: Pick<ArtifactBucket, "get" | "info">, bucketName = "artifacts"): ArtifactReader {
  const keyOf = (location: string) => {
    const key = objectKeyOf(location, bucketName);
    return key !== null && plausibleKey(key) ? key : null;
  };
  return {
    async statArtifact(location) {
      const key = keyOf(location);
      if (key === null) return null;
      const info = await bucket.info(key);
      return info === null ? null : { sizeBytes: info.sizeBytes };
    },
    async openArtifact(location) {
      const key = keyOf(location);
      return key === null ? null : bucket.get(key);
    },
  };
}

/** Asks each reader in turn; the first that finds the file answers. */
export function combineArtifactReaders(...readers: readonly (ArtifactReader | undefined)[]): ArtifactReader {
  const present = readers.filter((r): r is ArtifactReader => r !== undefined);
  return {
    async statArtifact(location) {
      for (const reader of present) {
        const stat = await reader.statArtifact(location);
        if (stat !== null) return stat;
      }
      return null;
    },
    async openArtifact(location) {
      for (const reader of present) {
        const body = await reader.openArtifact(location);
        if (body !== null) return body;
      }
      return null;
    },
  };
}
