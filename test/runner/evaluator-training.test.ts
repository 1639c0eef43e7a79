/**
 * Evaluator training options on a real runner: a `train-evaluator` job trains on the records of its trainSplit only
 * (a snapshot where only VALIDATION and TEST records carry the label), holds out heldOutSplit, and writes its pooling
 * into the evaluator file; with trainSplit TRAIN (no labelled records there) it fails with a reason naming the
 * split and the label.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import type { DatasetRef, DatasetSplit, EvaluatorPooling, JobEnvelopeOf, JobEventOf, PreferenceRecord } from "../../src/contracts/index.ts";
import { importRewardModel } from "../../src/gpu-runner/engine/evaluate/index.ts";
import { DIMENSIONS, pkuSnapshot, storiesModelRef } from "./fixtures.ts";
import { isTerminal, openHarness, waitForEvents, type Harness } from "./harness.ts";

/** pku16 re-split: records 0–2 VALIDATION, 3–6 TEST (labelled "safer"), the rest TRAIN with the label removed. */
function relabelledSnapshot(): { bytes: Uint8Array; sha256: string; recordCount: number; counts: Record<DatasetSplit, number> } {
  const source = new TextDecoder().decode(pkuSnapshot().bytes).trim().split("\n").map((line) => JSON.parse(line) as PreferenceRecord);
  const counts: Record<DatasetSplit, number> = { TRAIN: 0, VALIDATION: 0, TEST: 0 };
  const records = source.map((record, i): PreferenceRecord => {
    const split: DatasetSplit = i < 3 ? "VALIDATION" : i < 7 ? "TEST" : "TRAIN";
    counts[split]++;
    const preferences = { ...record.preferences };
    if (split === "TRAIN") delete preferences.safer;
    return { ...record, split, preferences };
  });
  const bytes = new TextEncoder().encode(records.map((r) => JSON.stringify(r) + "\n").join(""));
  return { bytes, sha256: createHash("sha256").update(bytes).digest("hex"), recordCount: records.length, counts };
}

describe("runner: train-evaluator pooling and splits", () => {
  let h: Harness;
  let dataset: DatasetRef;
  let counts: Record<DatasetSplit, number>;
  before(async () => {
    h = await openHarness();
    const snapshot = relabelledSnapshot();
    counts = snapshot.counts;
    const stored = await h.artifacts.put("datasets/pku16-relabelled.records.jsonl", snapshot.bytes);
    dataset = {
      datasetId: "pku16-relabelled",
      format: "PKU_SAFERLHF",
      snapshot: { location: `obj://artifacts/${stored.key}`, encoding: "records-jsonl", sha256: snapshot.sha256, recordCount: snapshot.recordCount },
      splitRatios: { train: 0.5625, validation: 0.1875, test: 0.25 },
      dimensionMap: { safer: DIMENSIONS[0].id },
    };
    await h.startRunner();
  });
  after(async () => {
    await h.close();
  });

  function envelope(pooling: EvaluatorPooling, trainSplit: DatasetSplit, heldOutSplit: DatasetSplit): JobEnvelopeOf<"train-evaluator"> {
    return {
      jobId: randomUUID(),
      tenantId: randomUUID(),
      createdAt: new Date().toISOString(),
      kind: "train-evaluator",
      payload: {
        evaluatorName: "harmless-rm",
        dimension: DIMENSIONS[0],
        baseModel: storiesModelRef(),
        dataset,
        labelName: "safer",
        lr: 1e-3,
        epochs: 1,
        batchSize: 2,
        seed: 5,
        maxLength: 48,
        pooling,
        trainSplit,
        heldOutSplit,
      },
    };
  }

  /** Publishes `job` and returns its terminal event, asserting that it completed. */
  async function runToCompletion(job: ReturnType<typeof envelope>): Promise<JobEventOf<"completed">> {
    await h.bus.publishJob(job);
    const events = (await waitForEvents(h.bus, job.jobId, isTerminal, 60_000)).map((d) => d.event);
    const completed = events.at(-1) as JobEventOf<"completed">;
    assert.equal(completed.type, "completed", JSON.stringify(completed));
    return completed;
  }

  it("trains a mean-pooled evaluator on the VALIDATION records only, holding out TEST; the file records pooling mean", async () => {
    assert.deepEqual(counts, { TRAIN: 9, VALIDATION: 3, TEST: 4 });
    const completed = await runToCompletion(envelope("mean", "VALIDATION", "TEST"));
    assert.equal(completed.metrics.trainPairs, counts.VALIDATION);
    assert.equal(completed.metrics.validationPairs, counts.TEST);
    assert.ok(completed.metrics["heldOut.accuracy"] >= 0 && completed.metrics["heldOut.accuracy"] <= 1);
    const bytes = await h.artifacts.get(completed.artifactKey!);
    assert.ok(bytes, "evaluator stored");
    const model = importRewardModel(bytes);
    assert.equal(model.metadata.pooling, "mean");
    assert.equal(model.metadata.dimension, DIMENSIONS[0].name);
  });

  it("a last-pooled evaluator trained on TEST, holding out VALIDATION, records pooling last", async () => {
    const completed = await runToCompletion(envelope("last", "TEST", "VALIDATION"));
    assert.equal(completed.metrics.trainPairs, counts.TEST);
    assert.equal(completed.metrics.validationPairs, counts.VALIDATION);
    assert.equal(importRewardModel((await h.artifacts.get(completed.artifactKey!))!).metadata.pooling, "last");
  });

  it("with trainSplit TRAIN, whose records lack the label, fails without retry, naming the split and the label", async () => {
    const job = envelope("mean", "TRAIN", "VALIDATION");
    await h.bus.publishJob(job);
    const events = (await waitForEvents(h.bus, job.jobId, isTerminal, 30_000)).map((d) => d.event);
    const failed = events.at(-1) as JobEventOf<"failed">;
    assert.equal(failed.type, "failed", JSON.stringify(failed));
    assert.equal(failed.code, "INVALID_PAYLOAD");
    assert.equal(failed.retryable, false);
    assert.match(failed.reason, /no TRAIN records with label "safer"/);
    assert.match(failed.reason, /larger train share \(splitRatios\)/);
    assert.equal(events.filter((e) => e.type === "started").length, 0, "it never started");
  });
});
