import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ArtifactDigestMismatchError, ArtifactUnavailableError, createArtifactCache, parseLocation } from "./cache.ts";
import { memoryArtifacts, sha256Hex } from "./store.ts";

describe("artifact cache", () => {
  it("parses obj://, file:// and absolute locations; rejects others", () => {
    assert.deepEqual(parseLocation("obj://artifacts/models/a.gguf"), { kind: "object", bucket: "artifacts", key: "models/a.gguf" });
    assert.deepEqual(parseLocation("file:///tmp/x.gguf"), { kind: "file", path: "/tmp/x.gguf" });
    assert.deepEqual(parseLocation("/tmp/x.gguf"), { kind: "file", path: "/tmp/x.gguf" });
    assert.throws(() => parseLocation("models/x.gguf"), ArtifactUnavailableError);
    assert.throws(() => parseLocation("obj://artifacts/"), ArtifactUnavailableError);
  });

  it("downloads an object once, caches it by digest, checks the expected digest", async () => {
    const dir = mkdtempSync(join(tmpdir(), "parm-cache-test-"));
    try {
      const store = memoryArtifacts();
      const bytes = new TextEncoder().encode("weights");
      await store.put("models/m.bin", bytes);
      let gets = 0;
      const counting = { ...store, get: (key: string) => (gets++, store.get(key)) };
      const cache = createArtifactCache(counting, dir);
      const digest = sha256Hex(bytes);
      const [p1, p2] = await Promise.all([cache.resolve("obj://artifacts/models/m.bin", digest, "model"), cache.resolve("obj://artifacts/models/m.bin", digest, "model")]);
      assert.equal(p1, join(dir, "sha256", digest));
      assert.equal(p2, p1);
      assert.equal(readFileSync(p1, "utf8"), "weights");
      assert.equal(await cache.resolve("obj://artifacts/models/m.bin", digest, "model"), p1);
      assert.equal(gets, 1, "one download for concurrent and later requests");
      assert.ok(cache.cachedDigests.has(digest));
      await assert.rejects(cache.resolve("obj://artifacts/models/m.bin", "f".repeat(64), "model"), ArtifactDigestMismatchError);
      await assert.rejects(cache.resolve("obj://artifacts/models/none.bin", null, "base model m"), (e: unknown) => e instanceof ArtifactUnavailableError && /base model m: object models\/none.bin/.test(e.message));
      const local = join(dir, "local.bin");
      writeFileSync(local, "x");
      assert.equal(await cache.resolve(pathToFileURL(local).href, null, "model"), local);
      await assert.rejects(cache.resolve(join(dir, "missing.bin"), null, "model"), /does not exist on this runner's host/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
