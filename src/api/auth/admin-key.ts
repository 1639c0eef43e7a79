/** @module api/auth/admin-key
 *  Where the platform admin key comes from at start:
 *  1. `PARM_ADMIN_KEY` when set (its hash is used; nothing is written);
 *  2. else the hash stored in `<dataDir>/admin-key.sha256` by an earlier start;
 *  3. else a new key is generated and returned as `generatedKey`, with its hash, for the caller to serve with and
 *     print ONCE. Nothing is written yet: the caller calls `persist()` only after the server listens and the key
 *     has been printed, which writes the sha256 to that file (mode 0600). A start that fails before that (port in
 *     use, database down) leaves no hash behind, so the next start generates and prints a key again instead of
 *     holding the hash of a key nobody saw. The key itself is never stored; to replace a lost key, delete the file
 *     (or set PARM_ADMIN_KEY) and restart. */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generateAdminKey, hashKey } from "./keys.ts";

export const ADMIN_KEY_FILE = "admin-key.sha256";

export class AdminKeyFileError extends Error {
  readonly code = "ADMIN_KEY_FILE_INVALID" as const;
  constructor(readonly path: string) {
    super(`${path} does not hold a hex sha256 digest; delete it to generate a new admin key`);
    this.name = "AdminKeyFileError";
  }
}

/** `persist()` found a hash file written meanwhile (another start with the same data folder): the key this process
 *  printed is not the stored one and will not work after a restart. */
export class AdminKeyConflictError extends Error {
  readonly code = "ADMIN_KEY_FILE_EXISTS" as const;
  constructor(readonly path: string) {
    super(`${path} was written by another start meanwhile; the admin key printed by this start is not stored and is void after a restart`);
    this.name = "AdminKeyConflictError";
  }
}

export interface ResolvedAdminKey {
  /** Hex sha256 of the admin key. */
  hash: string;
  source: "environment" | "file" | "generated";
  /** Only when source is "generated": the new key, to show once. */
  generatedKey?: string;
  path: string;
  /** Source "generated": writes the hash to `path` (mode 0600; AdminKeyConflictError when the file exists by then).
   *  Call it once the key has been shown. Other sources: nothing to write. */
  persist(): Promise<void>;
}

async function readStoredHash(path: string): Promise<string | undefined> {
  let stored: string;
  try {
    stored = (await readFile(path, "utf8")).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  if (!/^[0-9a-f]{64}$/.test(stored)) throw new AdminKeyFileError(path);
  return stored;
}

async function writeHashOnce(dataDir: string, path: string, hash: string): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  try {
    await writeFile(path, hash + "\n", { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new AdminKeyConflictError(path);
    throw error;
  }
}

export async function resolveAdminKey(opts: { dataDir: string; adminKey?: string }): Promise<ResolvedAdminKey> {
  const path = join(opts.dataDir, ADMIN_KEY_FILE);
  const nothing = async () => {};
  if (opts.adminKey) return { hash: hashKey(opts.adminKey), source: "environment", path, persist: nothing };
  const stored = await readStoredHash(path);
  if (stored !== undefined) return { hash: stored, source: "file", path, persist: nothing };
  const key = generateAdminKey();
  const hash = hashKey(key);
  let persisted: Promise<void> | undefined;
  return { hash, source: "generated", generatedKey: key, path, persist: () => (persisted ??= writeHashOnce(opts.dataDir, path, hash)) };
}
