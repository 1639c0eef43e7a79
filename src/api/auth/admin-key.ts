/** @module api/auth/admin-key
 *  Where the platform admin key comes from at start:
 *  1. `PARM_ADMIN_KEY` when set (its hash is used; nothing is written);
 *  2. else the hash stored in `<dataDir>/admin-key.sha256` by an earlier start;
 *  3. else a new key is generated, its sha256 written to that file (mode 0600), and the key returned as
 *     `generatedKey` for the caller to print ONCE. The key itself is never stored; to replace a lost key, delete
 *     the file (or set PARM_ADMIN_KEY) and restart. */
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

export interface ResolvedAdminKey {
  /** Hex sha256 of the admin key. */
  hash: string;
  source: "environment" | "file" | "generated";
  /** Only when source is "generated": the new key, to show once. */
  generatedKey?: string;
  path: string;
}

export async function resolveAdminKey(opts: { dataDir: string; adminKey?: string }): Promise<ResolvedAdminKey> {
  const path = join(opts.dataDir, ADMIN_KEY_FILE);
  if (opts.adminKey) return { hash: hashKey(opts.adminKey), source: "environment", path };
  let stored: string | undefined;
  try {
    stored = (await readFile(path, "utf8")).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  if (stored !== undefined) {
    if (!/^[0-9a-f]{64}$/.test(stored)) throw new AdminKeyFileError(path);
    return { hash: stored, source: "file", path };
  }
  const key = generateAdminKey();
  const hash = hashKey(key);
  await mkdir(opts.dataDir, { recursive: true });
  await writeFile(path, hash + "\n", { mode: 0o600, flag: "wx" });
  return { hash, source: "generated", generatedKey: key, path };
}
