/** @module test/bus/in-process — the bus contract against the in-process implementation (artifacts in memory and
 *  under a folder), plus what only it has: the folder layout and the event sequence floor. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInProcessBus, folderArtifactStore, readArtifact, type JobBus } from "../../src/bus/index.ts";
import { closingAlso, runBusContract } from "./contract.ts";

runBusContract("in-process", async (settings) => createInProcessBus({ settings }));

runBusContract("in-process (artifacts under a folder)", async (settings) => {
  const dir = mkdtempSync(join(tmpdir(), "parm-bus-artifacts-"));
  const bus = createInProcessBus({ settings, artifactsDir: join(dir, "artifacts") });
  return closingAlso(bus, () => rmSync(dir, { recursive: true, force: true }));
});

test("in-process: event sequences start after eventSeqAfter", async () => {
  const bus = createInProcessBus({ eventSeqAfter: 41 });
  const jobId = crypto.randomUUID();
  assert.equal((await bus.publishEvent(jobId, { type: "progress", step: 1, totalSteps: 2, percent: 50, etaSeconds: null, lossPerObjective: [], tokensPerSecond: 1 })).seq, 42);
  assert.deepEqual((await bus.readEvents(jobId, 41)).map((d) => d.seq), [42]);
  await bus.close();
  assert.throws(() => createInProcessBus({ eventSeqAfter: -1 }), /afterSeq/);
});

test("in-process folder store: any key maps to one file; objects outlive the bus; partial writes are invisible", async () => {
  const dir = mkdtempSync(join(tmpdir(), "parm-folder-store-"));
  try {
    const store = folderArtifactStore(dir);
    const keys = ["x", "x.artifact/y", "../up", "a/./b/../c", "sp ace/ünï/%41.bin", "datasets/t/d.records.jsonl"];
    for (const [i, key] of keys.entries()) await store.put(key, new Uint8Array([i]));
    assert.deepEqual((await store.list()).map((i) => i.key).sort(), [...keys].sort());
    for (const [i, key] of keys.entries()) assert.deepEqual([...(await readArtifact((await store.get(key))!))], [i], key);
    assert.deepEqual(readdirSync(join(dir)).sort(), ["%2E%2E", "a", "datasets", "sp%20ace", "x%2Eartifact", "x.artifact"].sort(), "nothing escapes the folder");
    writeFileSync(join(dir, "datasets", "t", "d%2Erecords%2Ejsonl.artifact.123.abcd.tmp"), "partial");
    assert.equal((await store.list("datasets/")).length, 1, "a temporary file is not an object");

    const again = createInProcessBus({ artifactsDir: dir });
    assert.deepEqual([...(await readArtifact((await again.artifacts.get("x"))!))], [0], "a new bus on the folder sees the objects");
    assert.equal(await again.artifacts.delete("a/./b/../c"), true);
    assert.deepEqual(readdirSync(dir).includes("a"), false, "emptied folders are removed");
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
