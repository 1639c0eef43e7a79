/**
 * Cancellation reaches every phase of every job kind, on a real runner (in-process, one slot, one engine worker)
 * with the real stories260K model and a real nats-server. For each case a job is started, the test waits for the
 * event that puts it in the phase under test, writes `job_cancels/<jobId>` the way the api ingest does, and
 * asserts that the `failed` CANCELLED event arrives within {@link BOUND_MS} (the target is about a second; the
 * bound is generous for two loaded cores) and that the job stopped early; the measured latency and the phase the
 * engine names in the runner's log are printed. After each kind, the same runner (same worker) completes a short
 * job of that kind: the cancelled task released its worker and sessions.
 *
 * Cases: training between micro-batches and right after `started` (setup / held-out evaluation); evaluator
 * training between micro-batches; guided α-batched generation (64 α, cancelled at row 0's 50th streamed token, while
 * a backlog of token events is still queued) and unguided generation at the next token;
 * evaluation of the issue's 10 001-point grid (gridStep 0.0001) while generating, and an evaluation while scoring
 * (cancelled on its first `point`, with 16 more points of the chunk left to score over 256 prompts).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import type { DatasetRef, JobEnvelope, JobEnvelopeOf, JobEvent, JobEventOf, PreferenceRecord } from "../../src/contracts/index.ts";
import type { Runner } from "../../src/gpu-runner/runner/index.ts";
import { DIMENSIONS, generateEnvelope, pkuSnapshot, storiesModelRef, trainEnvelope } from "./fixtures.ts";
import { isTerminal, openHarness, waitFor, waitForEvents, type Harness } from "./harness.ts";

/** Upper bound asserted on key-written → `failed` received. */
const BOUND_MS = 3000;
const PROMPT_COUNT = 256;

interface CancelOutcome {
  readonly events: JobEvent[];
  readonly failed: JobEventOf<"failed">;
  readonly latencyMs: number;
  /** The runner's "cancelled (…)" log line for the job: where the engine stopped. */
  readonly stoppedAt: string;
}

function ofType<T extends JobEvent["type"]>(events: readonly JobEvent[], type: T): JobEventOf<T>[] {
  return events.filter((e) => e.type === type) as JobEventOf<T>[];
}

/** A snapshot of `count` TRAIN records with distinct story prompts (the evaluation's prompts). */
function promptSnapshot(count: number): { bytes: Uint8Array; sha256: string; recordCount: number } {
  const records: PreferenceRecord[] = Array.from({ length: count }, (_, i) => ({
    line: i + 1,
    prompt: `Once upon a time, in a small town number ${i}, there lived a little girl who loved to play with her ball in the park every day.`,
    response0: "She was happy.",
    response1: "She was sad.",
    preferences: { safer: 1, better: 0 },
    pairHash: createHash("sha256").update(String(i)).digest("hex"),
    split: "TRAIN",
  }));
  const bytes = new TextEncoder().encode(records.map((r) => JSON.stringify(r) + "\n").join(""));
  return { bytes, sha256: createHash("sha256").update(bytes).digest("hex"), recordCount: count };
}

describe("runner: cancellation reaches every phase of every job kind", () => {
  let h: Harness;
  let runner: Runner;
  let pku: DatasetRef;
  let prompts: DatasetRef;
  const logs: string[] = [];
  const adapter = { key: "", sha256: "" };
  const evaluators: { key: string; sha256: string }[] = [];

  before(async () => {
    h = await openHarness();
    const s = pkuSnapshot();
    const stored = await h.artifacts.put("datasets/pku16.records.jsonl", s.bytes);
    pku = trainEnvelope({ snapshotKey: stored.key, snapshotSha256: s.sha256, recordCount: s.recordCount }).payload.datasets[0];
    const p = promptSnapshot(PROMPT_COUNT);
    const storedPrompts = await h.artifacts.put("datasets/prompts.records.jsonl", p.bytes);
    prompts = { ...pku, datasetId: "prompts", snapshot: { ...pku.snapshot, location: `obj://artifacts/${storedPrompts.key}`, sha256: p.sha256, recordCount: p.recordCount } };
    runner = await h.startRunner({ log: { info: (m) => logs.push(m), warn: (m) => logs.push(m) } });
  });
  after(async () => {
    await h.close();
  });

  /** Publishes `envelope`, writes its cancel key when `trigger` first holds for an event, awaits the outcome. */
  async function cancelWhen(envelope: JobEnvelope, trigger: (event: JobEvent) => boolean, delayMs = 0): Promise<CancelOutcome> {
    const events: JobEvent[] = [];
    let cancelAt = 0;
    let resolveEnd!: (at: number) => void;
    const ended = new Promise<number>((resolve) => (resolveEnd = resolve));
    const subscription = await h.bus.subscribeEvents({ jobId: envelope.jobId }, async ({ event }) => {
      events.push(event);
      if (cancelAt === 0 && trigger(event)) {
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
        cancelAt = performance.now();
        await h.cancelsKv.put(envelope.jobId, JSON.stringify({ at: new Date().toISOString() }));
      }
      if (event.type === "failed" || event.type === "completed") resolveEnd(performance.now());
    });
    await h.bus.publishJob(envelope);
    const timeout = setTimeout(() => resolveEnd(Number.NaN), 60_000);
    const endAt = await ended;
    clearTimeout(timeout);
    await subscription.stop();
    const failed = events.at(-1) as JobEventOf<"failed">;
    assert.ok(cancelAt > 0, `the trigger never held; events: ${events.map((e) => e.type).join(", ")}`);
    assert.equal(failed?.type, "failed", `expected failed CANCELLED, got ${JSON.stringify(events.at(-1))}`);
    assert.equal(failed.code, "CANCELLED");
    assert.equal(failed.retryable, false);
    // The runner publishes `failed`, then acks, logs and frees the slot.
    const stoppedAt = await waitFor("the runner's cancelled log line", () => logs.find((l) => l.startsWith(`job ${envelope.jobId}: cancelled`)), 5000);
    await waitFor("the runner to hold no job", () => runner.running().length === 0, 5000);
    return { events, failed, latencyMs: endAt - cancelAt, stoppedAt };
  }

  /** Prints and bounds the latency. */
  function report(name: string, outcome: CancelOutcome): void {
    console.log(`cancel latency ${name}: ${outcome.latencyMs.toFixed(0)} ms — ${outcome.stoppedAt}`);
    assert.ok(outcome.latencyMs < BOUND_MS, `${name}: CANCELLED after ${outcome.latencyMs.toFixed(0)} ms (bound ${BOUND_MS} ms)`);
  }

  async function completes(envelope: JobEnvelope, timeoutMs = 60_000): Promise<JobEventOf<"completed">> {
    await h.bus.publishJob(envelope);
    const events = (await waitForEvents(h.bus, envelope.jobId, isTerminal, timeoutMs)).map((d) => d.event);
    const completed = events.at(-1) as JobEventOf<"completed">;
    assert.equal(completed.type, "completed", `the runner should complete a job after a cancellation: ${JSON.stringify(completed)}`);
    return completed;
  }

  function trainJob(overrides: Partial<JobEnvelopeOf<"train">["payload"]>): JobEnvelopeOf<"train"> {
    const job = trainEnvelope({ snapshotKey: "unused", snapshotSha256: "", recordCount: 0, overrides: { checkpointEvery: 0, ...overrides } });
    return { ...job, payload: { ...job.payload, datasets: [pku] } };
  }

  function evaluatorJob(label: "safer" | "better", epochs: number): JobEnvelopeOf<"train-evaluator"> {
    const dimension = label === "safer" ? DIMENSIONS[0] : DIMENSIONS[1];
    return {
      jobId: randomUUID(),
      tenantId: randomUUID(),
      createdAt: new Date().toISOString(),
      kind: "train-evaluator",
      payload: {
        evaluatorName: `${dimension.name}-rm`, dimension, baseModel: storiesModelRef(), dataset: pku, labelName: label,
        lr: 1e-3, epochs, batchSize: 2, seed: 3, maxLength: 48, pooling: "last", trainSplit: "TRAIN", heldOutSplit: "VALIDATION",
      },
    };
  }

  function evaluateJob(options: { gridStep: number; dataset: DatasetRef; count: number; maxTokens: number }): JobEnvelopeOf<"evaluate"> {
    return {
      jobId: randomUUID(),
      tenantId: randomUUID(),
      createdAt: new Date().toISOString(),
      kind: "evaluate",
      payload: {
        adapter: { id: "adapter-under-test", method: "PARM", location: `obj://artifacts/${adapter.key}`, sha256: adapter.sha256, armBase: storiesModelRef(), dimensions: DIMENSIONS },
        base: storiesModelRef(),
        gridStep: options.gridStep,
        prompts: { dataset: options.dataset, split: "TRAIN", count: options.count },
        evaluators: evaluators.map((e, i) => ({ id: `rm-${i}`, location: `obj://artifacts/${e.key}`, format: "SAFETENSORS" as const, sha256: e.sha256 })),
        referencePoint: null,
        beta: 1,
        sampling: { temperature: 0, topK: 0, topP: 1, seed: null, stop: [] },
        maxTokens: options.maxTokens,
        maxPromptTokens: null,
      },
    };
  }

  it("train: cancelled between micro-batches and right after started; then a short training completes", async () => {
    const mid = await cancelWhen(trainJob({ epochs: 40 }), (e) => e.type === "progress");
    report("train (micro-batches)", mid);
    const progress = ofType(mid.events, "progress");
    assert.ok(progress.at(-1)!.step < progress.at(-1)!.totalSteps, "stopped before the last update");
    assert.match(mid.stoppedAt, /training cancelled/);
    assert.ok(!mid.events.some((e) => e.type === "artifact"), "a cancelled training stores no adapter");

    const early = await cancelWhen(trainJob({ epochs: 40 }), (e) => e.type === "started");
    report("train (setup, right after started)", early);

    const completed = await completes(trainJob({ epochs: 1, maxSteps: 2 }));
    const key = completed.artifactKey!;
    adapter.key = key;
    adapter.sha256 = createHash("sha256").update((await h.artifacts.get(key))!).digest("hex");
  });

  it("train-evaluator: cancelled between micro-batches; then short evaluator trainings complete", async () => {
    const mid = await cancelWhen(evaluatorJob("safer", 200), (e) => e.type === "progress");
    report("train-evaluator (micro-batches)", mid);
    const progress = ofType(mid.events, "progress");
    assert.ok(progress.at(-1)!.step < progress.at(-1)!.totalSteps, "stopped before the last update");
    assert.match(mid.stoppedAt, /evaluator training cancelled/);
    for (const label of ["safer", "better"] as const) {
      const completed = await completes(evaluatorJob(label, 1));
      const bytes = (await h.artifacts.get(completed.artifactKey!))!;
      evaluators.push({ key: completed.artifactKey!, sha256: createHash("sha256").update(bytes).digest("hex") });
    }
  });

  it("generate: guided α-batched (64 α) and unguided generations stop at the next token; then a short generation completes", async () => {
    assert.ok(adapter.key, "needs the adapter of the first test");
    const alphas = Array.from({ length: 64 }, (_, i) => [i / 63, 1 - i / 63]);
    // 64 token events per step outpace their publication: cancelling at row 0's 50th token also checks that the
    // queued backlog does not delay `failed`.
    const at50 = (e: JobEvent) => e.type === "token" && e.outputIndex === 0 && e.position === 49;
    const guided = await cancelWhen(generateEnvelope({ adapterKey: adapter.key, adapterSha256: adapter.sha256, alphas, maxTokens: 400 }), at50);
    report("generate guided, 64 α (tokens)", guided);
    const firstRow = ofType(guided.events, "token").filter((t) => t.outputIndex === 0);
    assert.ok(firstRow.length < 400, `row 0 stopped early (${firstRow.length} of 400 tokens)`);
    assert.match(guided.stoppedAt, /generation cancelled/);

    const unguided = await cancelWhen(generateEnvelope({ adapterKey: null, maxTokens: 490 }), (e) => e.type === "token");
    report("generate unguided (tokens)", unguided);
    const tokens = ofType(unguided.events, "token").length;
    assert.ok(tokens < 490, `stopped early (${tokens} of 490 tokens)`);

    const completed = await completes(generateEnvelope({ adapterKey: adapter.key, adapterSha256: adapter.sha256, alphas: [[1, 0], [0, 1]], maxTokens: 4 }));
    assert.equal(completed.outputs?.length, 2);
  });

  it("evaluate: the 10 001-point grid stops while generating, a sweep stops while scoring; then a short evaluation completes", async () => {
    assert.equal(evaluators.length, 2, "needs the evaluators of the second test");
    const grid = await cancelWhen(evaluateJob({ gridStep: 0.0001, dataset: pku, count: 14, maxTokens: 32 }), (e) => e.type === "started", 500);
    report("evaluate 10 001 points (generation)", grid);
    assert.match(grid.stoppedAt, /while generating/);
    assert.equal(ofType(grid.events, "point").length, 0, "no point finished");

    const scoring = await cancelWhen(evaluateJob({ gridStep: 1 / 32, dataset: prompts, count: PROMPT_COUNT, maxTokens: 1 }), (e) => e.type === "point");
    report(`evaluate ${PROMPT_COUNT} prompts (scoring)`, scoring);
    assert.match(scoring.stoppedAt, /while scoring/);
    assert.ok(ofType(scoring.events, "point").length < 33, "stopped before the last point");

    const completed = await completes(evaluateJob({ gridStep: 0.5, dataset: pku, count: 2, maxTokens: 4 }));
    assert.equal(completed.metrics.points, 3);
  });
});
