import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { memoryArtifactStore, readArtifact } from "../../bus/index.ts";
import { contentDisposition } from "../http/downloads.ts";
import { bucketArtifactReader, combineArtifactReaders, localArtifactReader } from "./artifact-reader.ts";
import { datasetRecordLines, type DatasetRecordPages } from "./datasets.ts";
import { downloadPaths, safeFileName } from "./downloads.ts";

const text = async (body: AsyncIterable<Uint8Array> | null) => (body === null ? null : Buffer.from(await readArtifact(body)).toString("utf8"));

test("localArtifactReader reads file:// locations strictly inside its root, never through a link that leaves it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "parm-reader-"));
  try {
    const root = join(dir, "models");
    mkdirSync(join(root, "models", "t1"), { recursive: true });
    writeFileSync(join(root, "models", "t1", "a.gguf"), "GGUF-bytes");
    writeFileSync(join(dir, "outside.gguf"), "secret");
    symlinkSync(join(dir, "outside.gguf"), join(root, "models", "t1", "link.gguf"));
    mkdirSync(join(root, "models", "t1", "folder.gguf"));
    const reader = localArtifactReader(root);
    const inside = pathToFileURL(join(root, "models", "t1", "a.gguf")).href;
    assert.deepEqual(await reader.statArtifact(inside), { sizeBytes: 10 });
    assert.equal(await text(await reader.openArtifact(inside)), "GGUF-bytes");
    for (const location of [
      pathToFileURL(join(dir, "outside.gguf")).href,
      `${pathToFileURL(root).href}/../outside.gguf`,
      pathToFileURL(join(root, "models", "t1", "link.gguf")).href,
      pathToFileURL(join(root, "models", "t1", "missing.gguf")).href,
      pathToFileURL(join(root, "models", "t1", "folder.gguf")).href,
      "obj://artifacts/models/t1/a.gguf",
      join(root, "models", "t1", "a.gguf"),
      "file://%zz",
    ]) {
      assert.equal(await reader.statArtifact(location), null, location);
      assert.equal(await reader.openArtifact(location), null, location);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bucketArtifactReader reads obj://artifacts/<key> only; combineArtifactReaders asks each in turn", async () => {
  const bucket = memoryArtifactStore();
  await bucket.put("adapters/t/j/adapter.safetensors", new TextEncoder().encode("weights"));
  const reader = bucketArtifactReader(bucket);
  assert.deepEqual(await reader.statArtifact("obj://artifacts/adapters/t/j/adapter.safetensors"), { sizeBytes: 7 });
  assert.equal(await text(await reader.openArtifact("obj://artifacts/adapters/t/j/adapter.safetensors")), "weights");
  for (const location of ["obj://other/adapters/t/j/adapter.safetensors", "obj://artifacts/", "obj://artifacts//x", "obj://artifacts/missing", "file:///etc/passwd", "adapters/t/j/adapter.safetensors"]) {
    assert.equal(await reader.statArtifact(location), null, location);
    assert.equal(await reader.openArtifact(location), null, location);
  }
  const dir = mkdtempSync(join(tmpdir(), "parm-reader-"));
  try {
    writeFileSync(join(dir, "u.gguf"), "upload");
    const both = combineArtifactReaders(undefined, localArtifactReader(dir), reader);
    assert.equal(await text(await both.openArtifact(pathToFileURL(join(dir, "u.gguf")).href)), "upload");
    assert.equal(await text(await both.openArtifact("obj://artifacts/adapters/t/j/adapter.safetensors")), "weights");
    assert.equal(await both.statArtifact("obj://artifacts/none"), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("datasetRecordLines reads one page per chunk, only when asked (a download is never buffered whole)", async () => {
  const rows = Array.from({ length: 25 }, (_, i) => ({
    id: `r${i}`, tenantId: "t", datasetId: "d", line: i + 1, prompt: `p${i}`, response0: "a", response1: "b",
    preferences: { "dim-1": i % 2 }, split: "TRAIN" as const, pairHash: "h".repeat(64),
  }));
  const calls: number[] = [];
  const db = {
    datasetRecord: {
      findMany: async (args: { where: { line: { gt: number } }; take: number }) => {
        calls.push(args.where.line.gt);
        return rows.filter((r) => r.line > args.where.line.gt).slice(0, args.take);
      },
    },
  } as unknown as DatasetRecordPages;
  const lines = datasetRecordLines(db, "d", { better: "dim-1" }, 10);
  const first = await lines.next();
  assert.equal(calls.length, 1, "one page read for the first chunk");
  const firstLines = Buffer.from(first.value as Uint8Array).toString("utf8").trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.equal(firstLines.length, 10);
  assert.deepEqual(firstLines[1], { line: 2, prompt: "p1", response0: "a", response1: "b", preferences: { better: 1 }, pairHash: "h".repeat(64), split: "TRAIN" });
  await lines.return(undefined);
  assert.equal(calls.length, 1, "a consumer that stops reads no further page");
  const all: string[] = [];
  for await (const chunk of datasetRecordLines(db, "d", { better: "dim-1" }, 10)) all.push(Buffer.from(chunk).toString("utf8"));
  assert.equal(all.length, 3);
  assert.deepEqual(calls.slice(1), [0, 10, 20, 25]);
});

test("file names and Content-Disposition: no separators or control characters, UTF-8 name beside an ASCII fallback", () => {
  assert.equal(safeFileName("a/b\\c\u0000d"), "a_b_c_d");
  assert.equal(safeFileName(".."), "download");
  assert.equal(contentDisposition("arm v1.safetensors"), `attachment; filename="arm v1.safetensors"; filename*=UTF-8''arm%20v1.safetensors`);
  assert.equal(contentDisposition(`été "x" 100%.json`), `attachment; filename="_t_ _x_ 100_.json"; filename*=UTF-8''%C3%A9t%C3%A9%20%22x%22%20100%25.json`);
  // Global ids are base64 (`/`, `+`, `=`): the paths carry them URI-encoded, one segment each.
  for (let i = 0; i < 50; i++) {
    const uuid = crypto.randomUUID();
    assert.match(downloadPaths.evaluationReport(uuid), /^\/v1\/files\/evaluations\/[^/]+\/report\.json$/);
  }
});
