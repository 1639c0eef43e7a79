/**
 * A train job with `maxPairs` and `maxSteps` on a real nats-server and runner (stories260K, PKU-SafeRLHF 16):
 * the trainer sees each dataset's first maxPairs TRAIN pairs and makes exactly maxSteps updates, and progress,
 * checkpoints and the completed metrics report the capped total.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { JobEventOf } from "../../src/contracts/index.ts";
import { openHarness, waitForEvents, isTerminal, type Harness } from "./harness.ts";
import { pkuSnapshot, trainEnvelope } from "./fixtures.ts";

describe("runner: train jobs with maxPairs and maxSteps", () => {
  let h: Harness;
  let snapshot: { key: string; sha256: string; recordCount: number };
  before(async () => {
    h = await openHarness();
    const s = pkuSnapshot();
    const stored = await h.artifacts.put("datasets/pku16.records.jsonl", s.bytes);
    snapshot = { key: stored.key, sha256: s.sha256, recordCount: s.recordCount };
    await h.startRunner();
  });
  after(async () => {
    await h.close();
  });

  it("trains on the first maxPairs TRAIN pairs for exactly maxSteps updates; progress and checkpoints span the cap", async () => {
    // 12 TRAIN pairs cut to 5: 3 micro-batches of ≤ 2 per epoch (more when buckets split them), 2 epochs ≥ 6 updates, capped at 4.
    const envelope = trainEnvelope({
      snapshotKey: snapshot.key,
      snapshotSha256: snapshot.sha256,
      recordCount: snapshot.recordCount,
      overrides: { maxPairs: 5, maxSteps: 4, epochs: 2, batchSize: 2, checkpointEvery: 1 },
    });
    await h.bus.publishJob(envelope);
    const events = (await waitForEvents(h.bus, envelope.jobId, isTerminal, 120_000)).map((d) => d.event);
    const completed = events.at(-1) as JobEventOf<"completed">;
    assert.equal(completed.type, "completed", JSON.stringify(completed));
    assert.equal(completed.metrics.trainPairs, 5);
    assert.equal(completed.metrics.steps, 4);
    const progress = events.filter((e) => e.type === "progress") as JobEventOf<"progress">[];
    assert.deepEqual(progress.map((p) => [p.step, p.totalSteps]), [1, 2, 3, 4].map((step) => [step, 4]));
    assert.equal(progress.at(-1)!.percent, 100);
    const checkpoints = events.filter((e) => e.type === "artifact" && e.kind === "checkpoint") as JobEventOf<"artifact">[];
    assert.deepEqual(checkpoints.map((c) => c.step), [1, 2, 3, 4]);
  });
});
