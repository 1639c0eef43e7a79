import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createLocalModelFileStore, createLocalSnapshotWriter } from "./model-store.ts";

test("local stores delete only files inside their root: by location, by key prefix, pruning emptied folders", async () => {
  const dir = mkdtempSync(join(tmpdir(), "parm-model-store-"));
  try {
    const source = join(dir, "source.gguf");
    writeFileSync(source, "GGUF");
    const store = createLocalModelFileStore(join(dir, "store"));
    const a = await store.putModelFile("models/t1/abc/a.gguf", source);
    const b = await store.putModelFile("adapters/t1/j1/adapter-0.safetensors", source);
    await store.putModelFile("adapters/t1/j1/manifest.json", source);
    await store.putModelFile("adapters/t1/j2/manifest.json", source);

    assert.equal(await store.deleteModelFile(pathToFileURL(source).href), false, "a file outside the store is refused");
    assert.equal(await store.deleteModelFile(`${pathToFileURL(join(dir, "store")).href}/../source.gguf`), false);
    assert.equal(await store.deleteModelFile("obj://artifacts/models/t1/abc/a.gguf"), false);
    assert.ok(existsSync(source));

    assert.equal(await store.deleteModelFile(a.location), true);
    assert.equal(existsSync(join(dir, "store", "models")), false, "emptied folders are removed up to the root");
    assert.equal(await store.deleteModelFile(a.location), true, "a missing file counts as deleted");
    assert.equal(await store.deleteModelFiles("adapters/t1/j1/"), 2);
    assert.equal(existsSync(new URL(b.location)), false);
    assert.ok(existsSync(join(dir, "store", "adapters", "t1", "j2", "manifest.json")), "another job's folder stays");
    assert.equal(await store.deleteModelFiles("adapters/t9/"), 0);
    await assert.rejects(store.deleteModelFiles("../"), /escapes/);

    const snapshots = createLocalSnapshotWriter(join(dir, "datasets"));
    const snapshot = await snapshots.putSnapshot("datasets/t1/d.records.jsonl", (async function* () {
      yield new TextEncoder().encode("{}\n");
    })());
    assert.equal(await snapshots.deleteSnapshot(pathToFileURL(source).href), false);
    assert.equal(await snapshots.deleteSnapshot(snapshot.location), true);
    assert.equal(existsSync(new URL(snapshot.location)), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
