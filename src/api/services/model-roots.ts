/** @module api/services/model-roots
 *
 * Which host files a tenant may register as a model by location.
 *
 * Contracts:
 * - A location is a `file://` URL or an absolute path; anything else is UNSUPPORTED_LOCATION (a statement about
 *   the string, never about the host).
 * - The location is resolved with `realpath` (every symlink followed) and accepted only when the real path is a
 *   readable regular file strictly inside the real path of one of the model roots (`PARM_MODEL_ROOTS`) and not
 *   inside any excluded folder (the data dir with its uploads, dataset snapshots and the runners' artifact cache).
 *   A symlink under a root that points outside it is therefore refused.
 * - Every refusal of that kind — missing, outside the roots, excluded, not a file, unreadable, a symlink escape —
 *   is the one problem LOCATION_REFUSED with the same message, so the answer reveals nothing about the host.
 *   Nothing outside the roots is opened: only `realpath` and `stat` touch such paths.
 * - The accepted location is returned as the canonical `file://` URL of the real path, which is what the model
 *   row stores and runners read.
 * - Roots and exclusions are re-resolved on every call, so a root created after start-up works and a root
 *   replaced by a symlink is judged by where it points now.
 */
import { constants } from "node:fs";
import { access, realpath, stat } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { LOCATION_REFUSED_MESSAGE, ModelFileError } from "./model-inspect.ts";

export interface ModelRootsPolicy {
  /** Folders whose files tenants may register (absolute). */
  readonly roots: readonly string[];
  /** Folders never readable through registration, even when inside a root (absolute). */
  readonly excluded: readonly string[];
}

/** A location accepted under the model roots. */
export interface ResolvedModelLocation {
  /** Real filesystem path of the file. */
  readonly path: string;
  /** Canonical `file://` URL of `path`: what the model row stores. */
  readonly location: string;
}

/** Resolves registration locations against a {@link ModelRootsPolicy}. */
export class ModelRoots {
  constructor(readonly policy: ModelRootsPolicy) {}

  /** The accepted real path and canonical location of `location`, else throws ModelFileError. */
  async resolve(location: string): Promise<ResolvedModelLocation> {
    const requested = locationToPath(location);
    const refused = () => new ModelFileError(location, "LOCATION_REFUSED", LOCATION_REFUSED_MESSAGE);
    const real = await realpath(requested).catch(() => null);
    if (real === null) throw refused();
    const [roots, excluded] = await Promise.all([realFolders(this.policy.roots), realFolders(this.policy.excluded)]);
    if (!roots.some((root) => isStrictlyInside(real, root))) throw refused();
    if (excluded.some((folder) => real === folder || isStrictlyInside(real, folder))) throw refused();
    const info = await stat(real).catch(() => null);
    if (!info?.isFile()) throw refused();
    if (!(await access(real, constants.R_OK).then(() => true, () => false))) throw refused();
    return { path: real, location: pathToFileURL(real).href };
  }
}

/** Maps a `file://` URL or an absolute path to a filesystem path, else throws UNSUPPORTED_LOCATION. */
export function locationToPath(location: string): string {
  if (location.startsWith("file://")) {
    let path: string;
    try {
      path = fileURLToPath(location);
    } catch (e) {
      throw new ModelFileError(location, "UNSUPPORTED_LOCATION", `not a valid file URL (${(e as Error).message})`);
    }
    return path;
  }
  if (isAbsolute(location)) return location;
  throw new ModelFileError(location, "UNSUPPORTED_LOCATION", "expected a file:// URL or an absolute path");
}

/** Whether `path` lies strictly below `folder` (both real, absolute). */
export function isStrictlyInside(path: string, folder: string): boolean {
  const rel = relative(folder, path);
  return rel !== "" && !rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel);
}

/** Real paths of the folders that exist; a missing folder resolves to its normalised absolute path. */
async function realFolders(folders: readonly string[]): Promise<string[]> {
  return await Promise.all(folders.map(async (folder) => await realpath(folder).catch(() => resolve(folder))));
}
