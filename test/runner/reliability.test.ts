/**
 * Runner reliability on a real nats-server: a runner SIGKILLed mid-training is replaced and the job finishes from
 * its last checkpoint with the adapter an uninterrupted run produces; a graceful stop hands the job back; a
 * cancellation stops a job at its next step; two runners share one queue without running a job twice; a
 * nats-server restart mid-job loses neither the job nor its result.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { JobEvent, JobEventOf } from "../../src/contracts/index.ts";
import { generateEnvelope, pkuSnapshot, trainEnvelope } from "./fixtures.ts";
import { isTerminal, openHarness, startRestartableNats, waitFor, waitForEvents, type Harness } from "./harness.ts";

function ofType<T extends JobEvent["type"]>(events: JobEvent[], type: T): JobEventOf<T>[] {
  return events.filter((e) => e.type === type) as JobEventOf<T>[];
}

async function putSnapshot(h: Harness) {
  const s = pkuSnapshot();
  const stored = await h.artifacts.put("datasets/pku16.records.jsonl", s.bytes);
  return { snapshotKey: stored.key, snapshotSha256: stored.sha256, recordCount: s.recordCount };
}

describe("runner reliability", () => {
  let h: Harness;
  let data: Awaited<ReturnType<typeof putSnapshot>>;
  before(async () => {
    h = await openHarness();
    data = await putSnapshot(h);
  });
  after(async () => {
    await h.close();
  });

  it("SIGKILL mid-training: a new runner resumes from the last checkpoint and produces the uninterrupted result", async () => {
    const overrides = { epochs: 6 };
    // Reference: the same training, uninterrupted, in-process.
    const reference = await h.startRunner({ kinds: ["train"] });
    const first = trainEnvelope({ ...data, overrides });
    await h.bus.publishJob(first);
    const refEvents = (await waitForEvents(h.bus, first.jobId, isTerminal, 120_000)).map((d) => d.event);
    const refAdapter = ofType(refEvents, "artifact").find((a) => a.kind === "adapter");
    assert.ok(refAdapter, `reference run: ${JSON.stringify(refEvents.at(-1))}`);
    await reference.stop();

    const second = trainEnvelope({ ...data, overrides });
    const victim = h.spawnRunner({ PARM_RUNNER_KINDS: "train" });
    await h.bus.publishJob(second);
    const before = await waitForEvents(h.bus, second.jobId, (events) => ofType(events, "artifact").some((a) => a.kind === "checkpoint" && (a.step ?? 0) >= 2), 60_000);
    victim.kill("SIGKILL");
    await new Promise((r) => victim.once("exit", r));
    const checkpointsBeforeKill = ofType(before.map((d) => d.event), "artifact").filter((a) => a.kind === "checkpoint").length;
    assert.ok(checkpointsBeforeKill >= 2);

    const successor = h.spawnRunner({ PARM_RUNNER_KINDS: "train" });
    const events = (await waitForEvents(h.bus, second.jobId, isTerminal, 120_000)).map((d) => d.event);
    const completed = events.at(-1) as JobEventOf<"completed">;
    assert.equal(completed.type, "completed", `${JSON.stringify(completed)}\n${successor.logs()}`);
    const starts = ofType(events, "started");
    assert.equal(starts.length, 2);
    assert.equal(starts[0].resumedFromStep, 0);
    assert.ok(starts[1].resumedFromStep >= 2, `resumed from step ${starts[1].resumedFromStep}`);
    assert.equal(starts[1].attempt, 2);
    assert.notEqual(starts[0].runnerId, starts[1].runnerId);
    // The resumed run did only the remaining updates.
    const secondProgress = ofType(events.slice(events.indexOf(starts[1])), "progress");
    assert.equal(secondProgress[0].step, starts[1].resumedFromStep + 1);
    const adapter = ofType(events, "artifact").find((a) => a.kind === "adapter")!;
    assert.equal(adapter.sha256, refAdapter.sha256, "same adapter bytes as the uninterrupted run");
    assert.equal(completed.metrics.steps, (refEvents.at(-1) as JobEventOf<"completed">).metrics.steps);
    const exited = new Promise<number | null>((r) => successor.once("exit", (code) => r(code)));
    successor.kill("SIGTERM");
    assert.equal(await exited, 0, "SIGTERM stops the runner gracefully");
    assert.match(successor.logs(), /SIGTERM: stopping/);
    assert.deepEqual(await h.bus.queueDepth("train"), { pending: 0, inFlight: 0 });
  });

  it("graceful stop checkpoints and hands a running job back; another runner resumes from exactly that step", async () => {
    const first = await h.startRunner({ kinds: ["train"] });
    // No periodic checkpoints: the only checkpoint is the one written on shutdown.
    const envelope = trainEnvelope({ ...data, overrides: { epochs: 6, checkpointEvery: 0 } });
    await h.bus.publishJob(envelope);
    await waitForEvents(h.bus, envelope.jobId, (events) => ofType(events, "progress").length >= 2, 60_000);
    await first.stop();
    const afterStop = (await h.bus.readEvents(envelope.jobId)).map((d) => d.event);
    assert.ok(!isTerminal(afterStop), "a graceful stop reports no outcome");
    const lastStep = ofType(afterStop, "progress").at(-1)!.step;
    const checkpoints = ofType(afterStop, "artifact").filter((a) => a.kind === "checkpoint");
    assert.equal(checkpoints.length, 1, "one checkpoint, written on shutdown");
    assert.equal(checkpoints[0].step, lastStep);
    await h.startRunner({ kinds: ["train"] });
    const events = (await waitForEvents(h.bus, envelope.jobId, isTerminal, 120_000)).map((d) => d.event);
    assert.equal(events.at(-1)!.type, "completed");
    const starts = ofType(events, "started");
    assert.equal(starts.length, 2);
    assert.equal(starts[1].resumedFromStep, lastStep);
  });

  it("cancel: a key in job_cancels stops a running job at its next step and ends it CANCELLED", async () => {
    const runner = await h.startRunner({ kinds: ["train"] });
    const envelope = trainEnvelope({ ...data, overrides: { epochs: 20, checkpointEvery: 0 } });
    await h.bus.publishJob(envelope);
    await waitForEvents(h.bus, envelope.jobId, (events) => ofType(events, "progress").length >= 1, 60_000);
    await h.cancelsKv.put(envelope.jobId, JSON.stringify({ at: new Date().toISOString() }));
    const events = (await waitForEvents(h.bus, envelope.jobId, isTerminal, 30_000)).map((d) => d.event);
    const failed = events.at(-1) as JobEventOf<"failed">;
    assert.equal(failed.type, "failed");
    assert.equal(failed.code, "CANCELLED");
    assert.equal(failed.retryable, false);
    const progress = ofType(events, "progress");
    assert.ok(progress.at(-1)!.step < progress.at(-1)!.totalSteps, "stopped before the end");
    assert.deepEqual(await h.bus.queueDepth("train"), { pending: 0, inFlight: 0 });
    // A job cancelled before any runner took it is acknowledged without running.
    const queuedCancel = trainEnvelope({ ...data });
    await h.cancelsKv.put(queuedCancel.jobId, "{}");
    await h.bus.publishJob(queuedCancel);
    const qEvents = (await waitForEvents(h.bus, queuedCancel.jobId, isTerminal, 30_000)).map((d) => d.event);
    assert.deepEqual(qEvents.map((e) => e.type), ["failed"]);
    await runner.stop();
  });

  it("two runners share one queue: every job runs exactly once", async () => {
    const a = await h.startRunner({ kinds: ["generate"] });
    const b = await h.startRunner({ kinds: ["generate"] });
    const envelopes = Array.from({ length: 6 }, () => generateEnvelope({ adapterKey: null, maxTokens: 4 }));
    for (const e of envelopes) await h.bus.publishJob(e);
    const runnersUsed = new Set<string>();
    for (const e of envelopes) {
      const events = (await waitForEvents(h.bus, e.jobId, isTerminal, 60_000)).map((d) => d.event);
      assert.equal(events.at(-1)!.type, "completed", JSON.stringify(events.at(-1)));
      const starts = ofType(events, "started");
      assert.equal(starts.length, 1, `job ${e.jobId} started ${starts.length} times`);
      runnersUsed.add(starts[0].runnerId);
      assert.equal(ofType(events, "completed").length, 1);
    }
    assert.ok([...runnersUsed].every((id) => id === a.id || id === b.id));
    assert.deepEqual(await h.bus.queueDepth("generate"), { pending: 0, inFlight: 0 });
    await a.stop();
    await b.stop();
  });
});

describe("runner keep-alive", () => {
  let h: Harness;
  before(async () => {
    h = await openHarness();
  });
  after(async () => {
    await h.close();
  });

  it("a job longer than ack_wait is kept alive by working(): an idle second runner never receives it", async () => {
    const data = await putSnapshot(h);
    await h.startRunner({ kinds: ["train"] });
    await h.startRunner({ kinds: ["train"] });
    // Long enough (hundreds of updates) to outlive two 2 s ack_wait periods even on a fast, idle machine.
    const envelope = trainEnvelope({ ...data, overrides: { epochs: 60, maxPromptLength: 64, maxLength: 160, checkpointEvery: 0 } });
    const publishedAt = Date.now();
    await h.bus.publishJob(envelope);
    const events = (await waitForEvents(h.bus, envelope.jobId, isTerminal, 120_000)).map((d) => d.event);
    assert.equal(events.at(-1)!.type, "completed");
    const tookMs = Date.now() - publishedAt;
    assert.ok(tookMs > 2 * 2000, `the job must outlive two ack_wait periods to test anything (took ${tookMs} ms)`);
    assert.equal(ofType(events, "started").length, 1, "delivered once");
    assert.deepEqual(await h.bus.queueDepth("train"), { pending: 0, inFlight: 0 });
  });
});

describe("runner across a nats-server restart", () => {
  let nats: Awaited<ReturnType<typeof startRestartableNats>>;
  let h: Harness;
  before(async () => {
    nats = await startRestartableNats();
    h = await openHarness({ url: nats.url });
  });
  after(async () => {
    await h.close().catch(() => undefined);
    await nats.stop("SIGKILL");
  });

  it("restarting nats-server mid-job loses neither the job nor its final result", async () => {
    const data = await putSnapshot(h);
    await h.startRunner({ kinds: ["train"] });
    const envelope = trainEnvelope({ ...data, overrides: { epochs: 3 } });
    await h.bus.publishJob(envelope);
    await waitForEvents(h.bus, envelope.jobId, (events) => ofType(events, "progress").length >= 2, 60_000);
    await nats.stop("SIGTERM");
    await new Promise((r) => setTimeout(r, 1500));
    await nats.start();
    const events = await waitFor(
      "the job's outcome after the restart",
      async () => {
        try {
          const stored = (await h.bus.readEvents(envelope.jobId)).map((d) => d.event);
          return isTerminal(stored) ? stored : null;
        } catch {
          return null;
        }
      },
      120_000,
    );
    assert.equal(events.at(-1)!.type, "completed", JSON.stringify(events.at(-1)));
    assert.equal(ofType(events, "completed").length, 1);
    assert.ok(ofType(events, "artifact").some((a) => a.kind === "adapter"));
    await waitFor("an empty queue", async () => {
      const depth = await h.bus.queueDepth("train").catch(() => null);
      return depth && depth.pending === 0 && depth.inFlight === 0;
    }, 30_000);
  });
});
