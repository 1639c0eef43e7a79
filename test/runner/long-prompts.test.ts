/**
 * Long prompts on a real nats-server and runner (stories260K, context 512): an evaluate job over real HH-RLHF
 * prompts longer than the context completes with its points (each prompt keeps its last tokens, the turn being
 * answered); an explicit maxPromptTokens that leaves no room fails at once as INVALID_PAYLOAD naming the field; a
 * generate job whose prompt with maxTokens does not fit the context fails once, INVALID_PAYLOAD tagged
 * PROMPT_TOO_LONG and not retryable. Before the
 * fix the evaluation failed INTERNAL (retryable) and was redelivered until max_deliver.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createHash, randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { parseDataset, type JobEnvelopeOf, type JobEventOf } from "../../src/contracts/index.ts";
import { evaluate, exportTrainedArm, loadGguf, trainArm, type LoadedModel } from "../../src/gpu-runner/engine/index.ts";
import { openHarness, waitForEvents, isTerminal, type Harness } from "./harness.ts";
import { DIMENSIONS, SHARED_DATA, STORIES_GGUF_PATH, storiesModelRef } from "./fixtures.ts";

const HH_HELPFUL = fileURLToPath(new URL("hh-rlhf/helpful-base.test.jsonl.gz", SHARED_DATA));

describe("runner: prompts longer than the model's context", () => {
  let h: Harness;
  let model: LoadedModel;
  let longPrompt = "";
  let longTokens = 0;
  let midPrompt = "";
  let midTokens = 0;
  let evaluatePayload: JobEnvelopeOf<"evaluate">["payload"];

  before(async () => {
    h = await openHarness();
    model = await loadGguf(STORIES_GGUF_PATH);
    const records = parseDataset(new Uint8Array(readFileSync(HH_HELPFUL)), "HH_RLHF", { splitRatios: { train: 0, validation: 0, test: 1 } }).records;
    const tokens = (text: string) => model.tokenizer.encode(text, { bos: true }).length;
    const long = records.filter((r) => tokens(r.prompt) > model.config.maxSeqLen).slice(0, 2);
    const short = records.filter((r) => tokens(r.prompt) < 64).slice(0, 1);
    assert.equal(long.length, 2, "HH-RLHF helpful-base holds prompts beyond 512 tokens");
    longPrompt = long[0].prompt;
    longTokens = tokens(longPrompt);
    midPrompt = records.find((r) => tokens(r.prompt) > 300 && tokens(r.prompt) < 500)!.prompt;
    midTokens = tokens(midPrompt);
    const snapshot = new TextEncoder().encode([...long, ...short].map((r) => JSON.stringify(r) + "\n").join(""));
    const storedSnapshot = await h.artifacts.put("datasets/hh-long.records.jsonl", snapshot);

    // A small PARM adapter and one evaluator, trained in-process on short pairs (their quality does not matter).
    const pairs = short.concat(records.filter((r) => tokens(r.prompt) < 64).slice(1, 8)).map((r) => ({ prompt: r.prompt, responses: [r.response0, r.response1] as [string, string], preferred: [0, 1] as (0 | 1)[] }));
    const arm = await trainArm({ model, objectives: DIMENSIONS.map((d) => ({ name: d.name, beta: 0.1 })), pairs, epochs: 1, batchPairs: 4, maxLength: 48, maxPromptLength: 24, threads: 1, evaluateBefore: false });
    const adapter = await h.artifacts.put("adapters/long/adapter.safetensors", exportTrainedArm(arm.adapters[0], model.config));
    const rm = await evaluate.trainEvaluator({ model, dimension: DIMENSIONS[0].name, pairs: pairs.map((p) => ({ ...p, preferred: [0] })), epochs: 1, batchPairs: 4, maxLength: 48, maxPromptLength: 24, threads: 1 });
    const evaluator = await h.artifacts.put("evaluators/long/evaluator.safetensors", evaluate.exportRewardModel(rm.model, model.config));

    evaluatePayload = {
      adapter: { id: "adapter-long", method: "PARM", location: `obj://artifacts/${adapter.key}`, sha256: adapter.sha256, armBase: storiesModelRef(), dimensions: DIMENSIONS },
      base: storiesModelRef(),
      gridStep: 1,
      prompts: {
        dataset: {
          datasetId: "hh-long",
          format: "HH_RLHF",
          snapshot: { location: `obj://artifacts/${storedSnapshot.key}`, encoding: "records-jsonl", sha256: createHash("sha256").update(snapshot).digest("hex"), recordCount: 3 },
          splitRatios: { train: 0, validation: 0, test: 1 },
          dimensionMap: { preferred: DIMENSIONS[0].id },
        },
        split: "TEST",
        count: 3,
      },
      evaluators: DIMENSIONS.map((_, i) => ({ id: `rm-${i}`, location: `obj://artifacts/${evaluator.key}`, format: "SAFETENSORS" as const, sha256: evaluator.sha256 })),
      referencePoint: null,
      beta: 1,
      sampling: { temperature: 0, topK: 0, topP: 1, seed: null, stop: [] },
      maxTokens: 4,
      maxPromptTokens: null,
    };
    await h.startRunner();
  });
  after(async () => {
    await h.close();
  });

  const envelope = <K extends "evaluate" | "generate">(kind: K, payload: JobEnvelopeOf<K>["payload"]) =>
    ({ jobId: randomUUID(), tenantId: randomUUID(), createdAt: new Date().toISOString(), kind, payload }) as JobEnvelopeOf<K>;

  it("an evaluation over prompts longer than the context completes with its points", async () => {
    const job = envelope("evaluate", evaluatePayload);
    await h.bus.publishJob(job);
    const events = (await waitForEvents(h.bus, job.jobId, isTerminal, 120_000)).map((d) => d.event);
    const completed = events.at(-1) as JobEventOf<"completed">;
    assert.equal(completed.type, "completed", JSON.stringify(completed));
    assert.equal(completed.metrics.prompts, 3);
    const points = events.filter((e) => e.type === "point") as JobEventOf<"point">[];
    assert.deepEqual(points.map((p) => p.alpha).sort((a, b) => a[0] - b[0]), [[0, 1], [1, 0]]);
    for (const p of points) assert.equal(p.promptCount, 3);
    assert.equal(events.filter((e) => e.type === "started").length, 1, "one attempt");
  });

  it("an explicit maxPromptTokens that leaves no room fails at once, INVALID_PAYLOAD naming the field", async () => {
    const job = envelope("evaluate", { ...evaluatePayload, maxPromptTokens: 600 });
    await h.bus.publishJob(job);
    const events = (await waitForEvents(h.bus, job.jobId, isTerminal, 60_000)).map((d) => d.event);
    const failed = events.at(-1) as JobEventOf<"failed">;
    assert.deepEqual([failed.type, failed.code, failed.retryable], ["failed", "INVALID_PAYLOAD", false], JSON.stringify(failed));
    assert.match(failed.reason, /^maxPromptTokens must be an integer in \[1, 511\]/);
    assert.equal(events.filter((e) => e.type === "started").length, 1);
  });

  it("generation keeps refusing a prompt that with maxTokens does not fit the context: PROMPT_TOO_LONG, not retried", async () => {
    const cases: [string, number, RegExp][] = [
      [longPrompt, 4, new RegExp(`^PROMPT_TOO_LONG: the prompt has ${longTokens} tokens; the context holds 512`)],
      [midPrompt, 513 - midTokens, new RegExp(`^PROMPT_TOO_LONG: the prompt has ${midTokens} tokens and maxNewTokens is ${513 - midTokens}: together more than the context of 512`)],
    ];
    for (const [prompt, maxTokens, reason] of cases) {
      const job = envelope("generate", { base: storiesModelRef(), arm: null, prompt, alphas: [[]], beta: 1, sampling: { temperature: 0, topK: 0, topP: 1, seed: null, stop: [] }, maxTokens, samplesPerAlpha: 1 });
      await h.bus.publishJob(job);
      const events = (await waitForEvents(h.bus, job.jobId, isTerminal, 60_000)).map((d) => d.event);
      const failed = events.at(-1) as JobEventOf<"failed">;
      assert.deepEqual([failed.type, failed.code, failed.retryable], ["failed", "INVALID_PAYLOAD", false], JSON.stringify(failed));
      assert.match(failed.reason, reason);
      assert.match(failed.reason, /shorten the prompt or lower maxTokens/);
      assert.equal(events.filter((e) => e.type === "started").length, 1, "not redelivered");
    }
  });
});
