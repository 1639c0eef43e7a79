/**
 * @module gpu-runner/artifacts/cache — turns a location from a job payload into a file on this host.
 *
 * - `obj://<bucket>/<key>`: downloaded once from the artifact store into `<cacheDir>/sha256/<digest>` and reused by
 *   digest (a payload sha256, when given, is checked and used as the cache key before any download).
 * - `file://…` URL or an absolute path: used in place; it must exist on this runner's host.
 * Failures are {@link ArtifactUnavailableError} (the location cannot be read here: another runner may succeed)
 * or {@link ArtifactDigestMismatchError} (the bytes are not the ones the job names).
 */
import { existsSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sha256Hex, type ArtifactStore } from "./store.ts";

export class ArtifactUnavailableError extends Error {
  override readonly name = "ArtifactUnavailableError";
  readonly code = "ARTIFACT_UNAVAILABLE" as const;
}

export class ArtifactDigestMismatchError extends Error {
  override readonly name = "ArtifactDigestMismatchError";
  readonly code = "ARTIFACT_DIGEST_MISMATCH" as const;
}

export type ParsedLocation = { readonly kind: "object"; readonly bucket: string; readonly key: string } | { readonly kind: "file"; readonly path: string };

/** Parses a payload location; throws ArtifactUnavailableError for a form this runner cannot read. */
export function parseLocation(location: string): ParsedLocation {
  if (location.startsWith("obj://")) {
    const rest = location.slice("obj://".length);
    const slash = rest.indexOf("/");
    if (slash <= 0 || slash === rest.length - 1) throw new ArtifactUnavailableError(`location ${location} must look like obj://<bucket>/<key>`);
    return { kind: "object", bucket: rest.slice(0, slash), key: rest.slice(slash + 1) };
  }
  if (location.startsWith("file://")) return { kind: "file", path: fileURLToPath(location) };
  if (isAbsolute(location)) return { kind: "file", path: location };
  throw new ArtifactUnavailableError(`location ${JSON.stringify(location)} is neither obj://, file:// nor an absolute path`);
}

export interface ArtifactCache {
  /** A local path holding the artifact at `location`. `what` names it in errors ("base model", "dataset …"). */
  resolve(location: string, sha256: string | null, what: string): Promise<string>;
  /** Digests downloaded or reused so far (for heartbeats and tests). */
  readonly cachedDigests: ReadonlySet<string>;
}

export function createArtifactCache(store: ArtifactStore, cacheDir: string): ArtifactCache {
  const digests = new Set<string>();
  const inFlight = new Map<string, Promise<string>>();
  const folder = join(cacheDir, "sha256");

  const download = async (key: string, expected: string | null, what: string): Promise<string> => {
    if (expected) {
      const path = join(folder, expected);
      if (existsSync(path)) {
        digests.add(expected);
        return path;
      }
    }
    const bytes = await store.get(key);
    if (!bytes) throw new ArtifactUnavailableError(`${what}: object ${key} is not in the artifact store`);
    const digest = sha256Hex(bytes);
    if (expected && digest !== expected) {
      throw new ArtifactDigestMismatchError(`${what}: object ${key} has sha256 ${digest}, the job expects ${expected}`);
    }
    const path = join(folder, digest);
    if (!existsSync(path)) {
      await mkdir(folder, { recursive: true });
      const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      await writeFile(temporary, bytes);
      await rename(temporary, path);
    }
    digests.add(digest);
    return path;
  };

  return {
    cachedDigests: digests,
    async resolve(location, sha256, what) {
      const parsed = parseLocation(location);
      if (parsed.kind === "file") {
        if (!existsSync(parsed.path)) throw new ArtifactUnavailableError(`${what}: ${parsed.path} does not exist on this runner's host`);
        return parsed.path;
      }
      const flightKey = `${parsed.key}\0${sha256 ?? ""}`;
      let pending = inFlight.get(flightKey);
      if (!pending) {
        pending = download(parsed.key, sha256, what).finally(() => inFlight.delete(flightKey));
        inFlight.set(flightKey, pending);
      }
      return pending;
    },
  };
}
