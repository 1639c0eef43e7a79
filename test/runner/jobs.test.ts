/**
 * Runner slice 1+2 on a real nats-server: a PARM train job on stories260K (checkpoints, progress, adapter in the
 * object store, completed with metrics), a generate job with two α using that adapter (tokens streamed, outputs),
 * the heartbeat in KV, and a job whose model cannot be found failing after maxDeliver with the last error.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseRunnerHeartbeat, type JobEventOf } from "../../src/contracts/index.ts";
import { openHarness, waitFor, waitForEvents, isTerminal, type Harness } from "./harness.ts";
import { randomUUID } from "node:crypto";
import { DIMENSIONS, generateEnvelope, pkuSnapshot, storiesModelRef, trainEnvelope } from "./fixtures.ts";
import { sha256Hex } from "../../src/gpu-runner/artifacts/index.ts";


describe("runner: train and generate jobs end to end on JetStream", () => {
  let h: Harness;
  let snapshot: { key: string; sha256: string; recordCount: number };
  before(async () => {
    h = await openHarness();
    const s = pkuSnapshot();
    const stored = await h.artifacts.put("datasets/pku16.records.jsonl", s.bytes);
    assert.equal(stored.sha256, s.sha256);
    snapshot = { key: stored.key, sha256: s.sha256, recordCount: s.recordCount };
    await h.startRunner();
  });
  after(async () => {
    await h.close();
  });

  let adapterKey = "";
  let adapterSha = "";

  it("trains a PARM adapter: started, progress with loss per objective, checkpoints, adapter artifact, completed", async () => {
    const envelope = trainEnvelope({ snapshotKey: snapshot.key, snapshotSha256: snapshot.sha256, recordCount: snapshot.recordCount });
    await h.bus.publishJob(envelope);
    const events = (await waitForEvents(h.bus, envelope.jobId, isTerminal, 120_000)).map((d) => d.event);
    const failed = events.find((e) => e.type === "failed");
    assert.equal(failed, undefined, `job failed: ${JSON.stringify(failed)}`);
    const started = events.filter((e) => e.type === "started") as JobEventOf<"started">[];
    assert.equal(started.length, 1);
    assert.equal(started[0].resumedFromStep, 0);
    assert.equal(started[0].device, "cpu");
    const progress = events.filter((e) => e.type === "progress") as JobEventOf<"progress">[];
    assert.ok(progress.length >= 2, "several progress events");
    const last = progress[progress.length - 1];
    assert.equal(last.step, last.totalSteps);
    assert.equal(last.percent, 100);
    assert.equal(last.lossPerObjective.length, 2);
    assert.ok(last.tokensPerSecond > 0);
    const checkpoints = events.filter((e) => e.type === "artifact" && e.kind === "checkpoint") as JobEventOf<"artifact">[];
    assert.equal(checkpoints.length, last.totalSteps, "checkpointEvery 1 → one checkpoint per update");
    assert.deepEqual(checkpoints.map((c) => c.step), progress.map((p) => p.step));
    const adapter = events.find((e) => e.type === "artifact" && e.kind === "adapter") as JobEventOf<"artifact">;
    assert.ok(adapter);
    assert.equal(adapter.key, `adapters/${envelope.tenantId}/${envelope.jobId}/adapter.safetensors`);
    const bytes = await h.artifacts.get(adapter.key);
    assert.ok(bytes && bytes.byteLength === adapter.sizeBytes);
    const completed = events[events.length - 1] as JobEventOf<"completed">;
    assert.equal(completed.type, "completed");
    assert.equal(completed.artifactKey, adapter.key);
    assert.equal(completed.metrics.steps, last.totalSteps);
    assert.ok(Number.isFinite(completed.metrics["loss.harmless"]) && Number.isFinite(completed.metrics["loss.helpful"]));
    assert.ok(completed.metrics["heldOut.accuracy.harmless"] >= 0 && completed.metrics["heldOut.accuracy.harmless"] <= 1);
    assert.deepEqual(await h.bus.queueDepth("train"), { pending: 0, inFlight: 0 });
    adapterKey = adapter.key;
    adapterSha = adapter.sha256;
  });

  it("trains GenARM: one LoRA ARM per dimension in the object store, listed by a manifest (the artifactKey)", async () => {
    const envelope = trainEnvelope({
      snapshotKey: snapshot.key,
      snapshotSha256: snapshot.sha256,
      recordCount: snapshot.recordCount,
      overrides: { method: "GENARM", epochs: 1, checkpointEvery: 0 },
    });
    await h.bus.publishJob(envelope);
    const events = (await waitForEvents(h.bus, envelope.jobId, isTerminal, 120_000)).map((d) => d.event);
    const completed = events.at(-1) as JobEventOf<"completed">;
    assert.equal(completed.type, "completed", JSON.stringify(events.at(-1)));
    const manifestBytes = await h.artifacts.get(completed.artifactKey!);
    assert.ok(manifestBytes, "manifest stored");
    const manifest = JSON.parse(new TextDecoder().decode(manifestBytes)) as { method: string; adapters: { key: string; sha256: string; dimensions: string[] }[] };
    assert.equal(manifest.method, "GENARM");
    assert.equal(manifest.adapters.length, DIMENSIONS.length, "one ARM per dimension");
    assert.deepEqual(manifest.adapters.map((a) => a.dimensions.length), DIMENSIONS.map(() => 1));
    for (const entry of manifest.adapters) {
      const bytes = await h.artifacts.get(entry.key);
      assert.ok(bytes && bytes.byteLength > 0, `ARM ${entry.key} stored`);
    }
  });

  it("generates with two α values: tokens streamed per output, outputs in completed", async () => {
    assert.ok(adapterKey, "needs the trained adapter");
    const envelope = generateEnvelope({ adapterKey, adapterSha256: adapterSha, alphas: [[1, 0], [0, 1]], maxTokens: 10 });
    await h.bus.publishJob(envelope);
    const events = (await waitForEvents(h.bus, envelope.jobId, isTerminal)).map((d) => d.event);
    const completed = events[events.length - 1] as JobEventOf<"completed">;
    assert.equal(completed.type, "completed", JSON.stringify(completed));
    assert.equal(completed.outputs?.length, 2);
    const tokens = events.filter((e) => e.type === "token") as JobEventOf<"token">[];
    for (const index of [0, 1]) {
      const mine = tokens.filter((t) => t.outputIndex === index);
      assert.equal(mine.length, completed.outputs![index].tokenCount);
      assert.deepEqual(mine.map((t) => t.position), mine.map((_, i) => i));
      assert.equal(mine.map((t) => t.text).join(""), completed.outputs![index].text);
      assert.deepEqual(completed.outputs![index].alpha, index === 0 ? [1, 0] : [0, 1]);
    }
    assert.ok(completed.metrics.tokensPerSecond > 0);
  });

  const evaluatorKeys: { key: string; sha256: string }[] = [];

  it("trains one evaluator per dimension: progress, evaluator artifact, held-out accuracy", async () => {
    for (const [label, dimension] of [["safer", DIMENSIONS[0]], ["better", DIMENSIONS[1]]] as const) {
      const envelope = {
        jobId: randomUUID(),
        tenantId: randomUUID(),
        createdAt: new Date().toISOString(),
        kind: "train-evaluator" as const,
        payload: {
          evaluatorName: `${dimension.name}-rm`,
          dimension,
          baseModel: storiesModelRef(),
          dataset: trainEnvelope({ snapshotKey: snapshot.key, snapshotSha256: snapshot.sha256, recordCount: snapshot.recordCount }).payload.datasets[0],
          labelName: label,
          lr: 1e-3,
          epochs: 1,
          batchSize: 2,
          seed: 3,
          maxLength: 48,
          pooling: "last" as const,
          // pku16 has 2 VALIDATION records and no TEST ones: train on VALIDATION, hold out TRAIN for the accuracy.
          trainSplit: "VALIDATION" as const,
          heldOutSplit: "TRAIN" as const,
        },
      };
      await h.bus.publishJob(envelope);
      const events = (await waitForEvents(h.bus, envelope.jobId, isTerminal, 60_000)).map((d) => d.event);
      const completed = events.at(-1) as JobEventOf<"completed">;
      assert.equal(completed.type, "completed", JSON.stringify(completed));
      const artifact = events.find((e) => e.type === "artifact" && e.kind === "evaluator") as JobEventOf<"artifact">;
      assert.equal(completed.artifactKey, artifact.key);
      assert.ok(events.some((e) => e.type === "progress"));
      assert.ok(completed.metrics["heldOut.accuracy"] >= 0 && completed.metrics["heldOut.accuracy"] <= 1);
      assert.equal(completed.metrics.trainPairs, 2, "the VALIDATION records");
      assert.equal(completed.metrics.validationPairs, 14, "the TRAIN records");
      evaluatorKeys.push({ key: artifact.key, sha256: artifact.sha256 });
    }
  });

  it("evaluates a 3-point sweep with the two evaluators: points streamed, HV / MIP / front in completed", async () => {
    assert.equal(evaluatorKeys.length, 2);
    const dataset = trainEnvelope({ snapshotKey: snapshot.key, snapshotSha256: snapshot.sha256, recordCount: snapshot.recordCount }).payload.datasets[0];
    const envelope = {
      jobId: randomUUID(),
      tenantId: randomUUID(),
      createdAt: new Date().toISOString(),
      kind: "evaluate" as const,
      payload: {
        adapter: { id: "adapter-under-test", method: "PARM" as const, location: `obj://artifacts/${adapterKey}`, sha256: adapterSha, armBase: storiesModelRef(), dimensions: DIMENSIONS },
        base: storiesModelRef(),
        gridStep: 0.5,
        prompts: { dataset, split: "VALIDATION" as const, count: 2 },
        evaluators: evaluatorKeys.map((e, i) => ({ id: `rm-${i}`, location: `obj://artifacts/${e.key}`, format: "SAFETENSORS" as const, sha256: e.sha256 })),
        referencePoint: null,
        beta: 1,
        sampling: { temperature: 0, topK: 0, topP: 1, seed: null, stop: [] },
        maxTokens: 6,
        maxPromptTokens: null,
      },
    };
    await h.bus.publishJob(envelope);
    const events = (await waitForEvents(h.bus, envelope.jobId, isTerminal, 90_000)).map((d) => d.event);
    const completed = events.at(-1) as JobEventOf<"completed">;
    assert.equal(completed.type, "completed", JSON.stringify(completed));
    const points = events.filter((e) => e.type === "point") as JobEventOf<"point">[];
    assert.deepEqual(points.map((p) => p.alpha).sort((a, b) => a[0] - b[0]), [[0, 1], [0.5, 0.5], [1, 0]]);
    for (const p of points) {
      assert.equal(p.rewards.length, 2);
      assert.equal(p.promptCount, 2);
    }
    const evaluation = completed.evaluation!;
    assert.ok(evaluation.frontIndices.length >= 1 && evaluation.frontIndices.every((i) => i < 3));
    assert.equal(evaluation.referencePoint.length, 2);
    assert.ok(evaluation.hypervolume >= 0);
    // MIP = mean over α of αᵀ r̄(α), from the streamed points.
    const mip = points.reduce((s, p) => s + p.alpha[0] * p.rewards[0] + p.alpha[1] * p.rewards[1], 0) / points.length;
    assert.ok(Math.abs(evaluation.mip - mip) < 1e-9 * Math.max(1, Math.abs(mip)));
    // The engine's report and plot are stored beside the job (artifact events of kind "report") and named in completed.
    const prefix = `evaluations/${envelope.tenantId}/${envelope.jobId}`;
    const reports = events.filter((e) => e.type === "artifact" && e.kind === "report") as JobEventOf<"artifact">[];
    assert.deepEqual(reports.map((r) => r.key), [`${prefix}/report.json`, `${prefix}/plot.svg`]);
    assert.deepEqual(evaluation.reportFile, { key: reports[0].key, sha256: reports[0].sha256, sizeBytes: reports[0].sizeBytes });
    assert.deepEqual(evaluation.plotFile, { key: reports[1].key, sha256: reports[1].sha256, sizeBytes: reports[1].sizeBytes });
    const reportBytes = (await h.artifacts.get(reports[0].key))!;
    assert.equal(sha256Hex(reportBytes), reports[0].sha256);
    const report = JSON.parse(Buffer.from(reportBytes).toString("utf8"));
    assert.equal(report.kind, "parm.pareto-report");
    assert.deepEqual(report.objectiveNames, DIMENSIONS.map((d) => d.name));
    assert.equal(report.hypervolume, evaluation.hypervolume);
    assert.deepEqual(report.front, evaluation.frontIndices);
    assert.deepEqual(report.points.map((p: { rewards: number[] }) => p.rewards), points.sort((a, b) => a.index - b.index).map((p) => p.rewards));
    const svg = Buffer.from((await h.artifacts.get(reports[1].key))!).toString("utf8");
    assert.equal(sha256Hex(Buffer.from(svg)), reports[1].sha256);
    assert.ok(svg.startsWith("<svg") && svg.includes("Pareto front"));
  });

  it("writes a heartbeat to KV runners with device, slots, models and version", async () => {
    const entry = await waitFor("a heartbeat that lists the loaded model", async () => {
      const e = await h.runnersKv.get("test-runner-1");
      if (!e) return null;
      const hb = e.json<Record<string, unknown>>();
      return (hb.loadedModels as string[]).includes("stories260k") ? hb : null;
    }, 10_000);
    const heartbeat = parseRunnerHeartbeat(entry);
    assert.equal(heartbeat.device, "cpu");
    assert.equal(heartbeat.totalSlots, 1);
    assert.equal(heartbeat.freeSlots, 1);
    assert.deepEqual(heartbeat.runningJobIds, []);
    assert.equal(entry.deviceName, "test-cpu");
    assert.equal(entry.threads, 1);
  });

  it("a job whose model is missing fails after maxDeliver attempts with the last error", async () => {
    const envelope = trainEnvelope({
      snapshotKey: snapshot.key,
      snapshotSha256: snapshot.sha256,
      recordCount: snapshot.recordCount,
      overrides: { baseModel: { id: "ghost", location: "obj://artifacts/models/ghost.gguf", format: "GGUF", sha256: null } },
    });
    await h.bus.publishJob(envelope);
    const events = (await waitForEvents(h.bus, envelope.jobId, isTerminal, 30_000)).map((d) => d.event);
    const failed = events[events.length - 1] as JobEventOf<"failed">;
    assert.equal(failed.type, "failed");
    assert.equal(failed.code, "MODEL_UNAVAILABLE");
    assert.match(failed.reason, /models\/ghost\.gguf/);
    assert.equal(events.filter((e) => e.type === "started").length, 0, "it never started");
  });
});
