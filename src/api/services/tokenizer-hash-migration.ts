/** @module api/services/tokenizer-hash-migration
 *
 * Data migration run by the api at start (api/main.ts, before event ingestion): rewrites `Model.tokenizerHash`
 * values stored with the api's former vocabulary digest (version 1: sha256 over the tokens, each followed by a NUL
 * byte) as formats' `vocabularyDigest` (version 2), the engine's `Tokenizer.digest`, so stored hashes compare with
 * each other and with what runners compute.
 *
 * Contracts:
 * - Only rows with `tokenizerHashVersion` 1 are touched; each update sets version 2 and holds only while the row is
 *   still version 1, so a second run (or a second api starting at once) changes nothing.
 * - A row's vocabulary is re-read from where its file is stored: an upload through `stored` (`file://` in the data
 *   dir's models/, `obj://artifacts/<key>` in the bus's store; the GGUF header streamed, never the whole file), a
 *   file registered by location through the model roots (the GGUF header, else a sibling tokenizer.json, as at
 *   registration: model-inspect.ts).
 * - The re-read vocabulary is used only when its version-1 digest equals the stored hash (it is the vocabulary
 *   that was registered). Otherwise — file gone, no longer admitted, changed, or a hash copied from another row (a
 *   trained EVALUATOR takes its base model's) — the row gets the new hash another row with the same old hash got,
 *   else null: unknown, so vocabulary checks compare sizes only (models.ts `assertSameVocabulary`).
 */
import { join } from "node:path";
import type { ArtifactBucket } from "../../bus/index.ts";
import { sha256Hex, VOCABULARY_DIGEST_VERSION, vocabularyDigest } from "../../formats/index.ts";
import type { Database } from "../db/index.ts";
import type { Logger } from "../server/logger.ts";
import { bucketArtifactReader, combineArtifactReaders, localArtifactReader } from "./artifact-reader.ts";
import type { ArtifactReader } from "./deps.ts";
import { readModelVocabulary, readStreamedGgufVocabulary } from "./model-inspect.ts";
import type { ModelRoots } from "./model-roots.ts";

/** The api's former tokenizer digest (version 1), kept only to recognise the hashes this migration rewrites. */
export function formerTokenizerDigest(tokens: readonly string[]): string {
  const parts: (string | Uint8Array)[] = [];
  const nul = new Uint8Array([0]);
  for (const token of tokens) parts.push(token, nul);
  return sha256Hex(...parts);
}

export interface TokenizerHashMigrationDeps {
  db: Database["system"];
  /** Reads stored uploads (see `storedModelFiles`). */
  stored: ArtifactReader;
  /** Admits files registered by location; absent: those are not re-read. */
  modelRoots?: ModelRoots;
  log: Pick<Logger, "info" | "warn">;
}

export interface TokenizerHashMigrationResult {
  /** Rows whose file was re-read and whose hash was rewritten. */
  reread: number;
  /** Rows given the new hash of another row with the same old hash. */
  matched: number;
  /** Rows whose hash became null (vocabulary not recoverable). */
  cleared: number;
  /** Rows without a hash, only marked. */
  withoutHash: number;
}

/** Where uploads are stored: the local store under `<dataDir>/models` and the bus's artifact store. */
export function storedModelFiles(dataDir: string, artifacts: Pick<ArtifactBucket, "get" | "info">): ArtifactReader {
  return combineArtifactReaders(localArtifactReader(join(dataDir, "models")), bucketArtifactReader(artifacts));
}

/** The vocabulary of the file a row names, or null when it cannot be read (see the module contract). */
async function rereadVocabulary(location: string, deps: TokenizerHashMigrationDeps): Promise<string[] | null> {
  const stream = await deps.stored.openArtifact(location).catch(() => null);
  if (stream !== null) return await readStreamedGgufVocabulary(stream).catch(() => null);
  if (!deps.modelRoots) return null;
  try {
    const { path } = await deps.modelRoots.resolve(location);
    return await readModelVocabulary(path, location);
  } catch {
    return null;
  }
}

/** Rewrites every version-1 tokenizer hash (see the module contract). */
export async function migrateTokenizerHashes(deps: TokenizerHashMigrationDeps): Promise<TokenizerHashMigrationResult> {
  const { db } = deps;
  const withoutHash = (await db.model.updateMany({ where: { tokenizerHashVersion: 1, tokenizerHash: null }, data: { tokenizerHashVersion: VOCABULARY_DIGEST_VERSION } })).count;
  const rows = await db.model.findMany({ where: { tokenizerHashVersion: 1 }, select: { id: true, location: true, tokenizerHash: true }, orderBy: { createdAt: "asc" } });
  const newByOld = new Map<string, string>();
  const next = new Map<string, string | null>();
  for (const row of rows) {
    const tokens = await rereadVocabulary(row.location, deps);
    if (tokens !== null && formerTokenizerDigest(tokens) === row.tokenizerHash) {
      next.set(row.id, vocabularyDigest(tokens));
      newByOld.set(row.tokenizerHash, vocabularyDigest(tokens));
    }
  }
  const result: TokenizerHashMigrationResult = { reread: next.size, matched: 0, cleared: 0, withoutHash };
  for (const row of rows) {
    let hash = next.get(row.id);
    if (hash === undefined) {
      hash = newByOld.get(row.tokenizerHash!) ?? null;
      if (hash === null) result.cleared++;
      else result.matched++;
    }
    await db.model.updateMany({ where: { id: row.id, tokenizerHashVersion: 1 }, data: { tokenizerHash: hash, tokenizerHashVersion: VOCABULARY_DIGEST_VERSION } });
  }
  if (rows.length > 0 || withoutHash > 0) deps.log.info("tokenizer hashes recomputed with the vocabulary digest version 2", { ...result });
  if (result.cleared > 0) deps.log.warn("some models' vocabularies could not be re-read: their tokenizer hash is now unknown (vocabulary checks compare sizes)", { cleared: result.cleared });
  return result;
}
