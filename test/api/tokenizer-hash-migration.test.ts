/** @module test/api/tokenizer-hash-migration — stored `Model.tokenizerHash` values of the former digest (version 1)
 *  are rewritten once at start as formats' vocabularyDigest, re-reading each file where it is stored: a file under
 *  the model roots, an upload in the local store, an upload in the bus's artifact store; a copied hash follows its
 *  original; an unrecoverable one becomes null; a second run changes nothing. */
import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { memoryArtifactStore } from "../../src/bus/index.ts";
import { ggufTokens, readGgufHeaderFromFile, vocabularyDigest } from "../../src/formats/index.ts";
import { inspectModelFile } from "../../src/api/services/model-inspect.ts";
import { ModelRoots } from "../../src/api/services/model-roots.ts";
import { formerTokenizerDigest, migrateTokenizerHashes, storedModelFiles } from "../../src/api/services/tokenizer-hash-migration.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

const ggufPath = fileURLToPath(new URL("../../../shared/data/tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf", import.meta.url));
const silent = { info() {}, warn() {} };

describe("tokenizer hash migration", () => {
  let database: TestDatabase;
  let scratch: string;
  before(async () => {
    database = await createTestDatabase();
    scratch = await mkdtemp(join(tmpdir(), "parm-hash-migration-"));
  });
  after(async () => {
    await database?.drop();
    await rm(scratch, { recursive: true, force: true });
  });

  it("rewrites old-style hashes from each stored file, once", async () => {
    const tokens = ggufTokens((await readGgufHeaderFromFile(ggufPath, { metadataOnly: true })).metadata)!;
    const oldHash = formerTokenizerDigest(tokens);
    const newHash = vocabularyDigest(tokens);
    assert.notEqual(oldHash, newHash);

    const root = join(scratch, "models-root");
    const dataDir = join(scratch, "data");
    await mkdir(root);
    await mkdir(join(dataDir, "models", "uploads"), { recursive: true });
    await copyFile(ggufPath, join(root, "stories.gguf"));
    await copyFile(ggufPath, join(dataDir, "models", "uploads", "local.gguf"));
    const artifacts = memoryArtifactStore();
    await artifacts.put("models/t/abc/bucket.gguf", new Uint8Array(await readFile(ggufPath)));

    const s = database.db.system;
    const tenant = await s.tenant.create({ data: { name: "t" } });
    const row = async (name: string, location: string, tokenizerHash: string | null, tokenizerHashVersion = 1, kind: "BASE" | "EVALUATOR" = "BASE") =>
      (await s.model.create({ data: { tenantId: tenant.id, name, kind, format: "GGUF", location, tokenizerHash, tokenizerHashVersion, vocabSize: 512 } })).id;
    const ids = {
      byLocation: await row("by-location", pathToFileURL(join(root, "stories.gguf")).href, oldHash),
      localUpload: await row("local-upload", pathToFileURL(join(dataDir, "models", "uploads", "local.gguf")).href, oldHash),
      bucketUpload: await row("bucket-upload", "obj://artifacts/models/t/abc/bucket.gguf", oldHash),
      evaluator: await row("evaluator", "obj://artifacts/evaluators/t/job/evaluator.safetensors", oldHash, 1, "EVALUATOR"),
      vanished: await row("vanished", pathToFileURL(join(root, "gone.gguf")).href, "ab".repeat(32)),
      noHash: await row("no-hash", pathToFileURL(join(root, "stories.gguf")).href, null),
      current: await row("current", pathToFileURL(join(root, "stories.gguf")).href, "cd".repeat(32), 2),
    };
    const deps = { db: s, stored: storedModelFiles(dataDir, artifacts), modelRoots: new ModelRoots({ roots: [root], excluded: [dataDir] }), log: silent };

    const first = await migrateTokenizerHashes(deps);
    assert.deepEqual(first, { reread: 3, matched: 1, cleared: 1, withoutHash: 1 });
    const read = async () => Object.fromEntries((await s.model.findMany({ select: { id: true, tokenizerHash: true, tokenizerHashVersion: true } })).map((m) => [m.id, [m.tokenizerHash, m.tokenizerHashVersion]]));
    const after1 = await read();
    assert.deepEqual(after1[ids.byLocation], [newHash, 2]);
    assert.deepEqual(after1[ids.localUpload], [newHash, 2]);
    assert.deepEqual(after1[ids.bucketUpload], [newHash, 2]);
    assert.deepEqual(after1[ids.evaluator], [newHash, 2], "a copied hash follows the row it was copied from");
    assert.deepEqual(after1[ids.vanished], [null, 2], "an unrecoverable vocabulary becomes unknown");
    assert.deepEqual(after1[ids.noHash], [null, 2]);
    assert.deepEqual(after1[ids.current], ["cd".repeat(32), 2], "a version-2 row is not touched");
    // What registration stores now equals the migrated hash, so base and ARM rows compare again.
    assert.equal((await inspectModelFile(join(root, "stories.gguf"))).tokenizerHash, newHash);

    const second = await migrateTokenizerHashes(deps);
    assert.deepEqual(second, { reread: 0, matched: 0, cleared: 0, withoutHash: 0 });
    assert.deepEqual(await read(), after1);
  });

  it("gives new rows version 2 by default", async () => {
    const s = database.db.system;
    const tenant = await s.tenant.create({ data: { name: "t2" } });
    const model = await s.model.create({ data: { tenantId: tenant.id, name: "m", kind: "BASE", format: "GGUF", location: "/m.gguf", tokenizerHash: "ef".repeat(32) } });
    assert.equal(model.tokenizerHashVersion, 2);
  });
});
