/**
 * The worker pool's cancellation contract with a real engine worker thread and the stories260K model: a signal
 * aborted before `run` rejects at once with TaskCancelledError (the worker is not asked); aborting a running
 * generation stops it at the next token with code CANCELLED; the same single worker then runs the next task to
 * completion (no busy or zombie worker is left behind).
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { createWorkerPool, TaskCancelledError, TaskFailedError } from "./pool.ts";
import type { GenerateTask, GenerateTaskResult } from "./protocol.ts";

const STORIES = fileURLToPath(new URL("../../../../shared/data/tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf", import.meta.url));

function generateTask(maxTokens: number): GenerateTask {
  return {
    kind: "generate",
    base: { id: "stories260k", path: STORIES },
    arm: null,
    prompt: "Once upon a time",
    alphas: [[]],
    beta: 1,
    sampling: { temperature: 0, topK: 0, topP: 1, seed: null },
    stop: [],
    maxTokens,
    samplesPerAlpha: 1,
    runtime: { provider: "cpu", threads: 1 },
  };
}

describe("worker pool: cancellation", () => {
  const pool = createWorkerPool(1);
  after(() => pool.close());

  it("an already aborted signal rejects at once without asking the worker", async () => {
    const controller = new AbortController();
    controller.abort("cancel");
    let messages = 0;
    await assert.rejects(pool.run(generateTask(4), () => messages++, controller.signal), (e: unknown) => e instanceof TaskCancelledError && e.info.code === "CANCELLED" && /\(cancel\)/.test(e.message));
    assert.equal(messages, 0);
  });

  it("aborting a running generation stops it at the next token; the same worker then completes the next task", async () => {
    const controller = new AbortController();
    let tokens = 0;
    let abortedAt = 0;
    const stopped = pool.run(
      generateTask(490),
      (message) => {
        if (message.type !== "token" || ++tokens !== 3) return;
        abortedAt = performance.now();
        controller.abort("cancel");
      },
      controller.signal,
    );
    await assert.rejects(stopped, (e: unknown) => e instanceof TaskFailedError && e.info.code === "CANCELLED" && /generation cancelled between tokens/.test(e.message));
    const latencyMs = performance.now() - abortedAt;
    assert.ok(tokens < 490, `stopped early (${tokens} tokens)`);
    assert.ok(latencyMs < 1000, `the worker answered the cancel after ${latencyMs.toFixed(0)} ms`);
    const result = (await pool.run(generateTask(5), () => {})) as GenerateTaskResult;
    assert.equal(result.outputs[0].tokenCount, 5);
  });
});

describe("worker pool: samples per α", () => {
  const pool = createWorkerPool(1);
  after(() => pool.close());

  it("samplesPerAlpha 3 with a seed: three outputs, streamed on their own output index, sample j equal to a run seeded seed + j", async () => {
    const sampled = (seed: number, samplesPerAlpha: number): GenerateTask => ({
      ...generateTask(12),
      sampling: { temperature: 1.5, topK: 0, topP: 1, seed },
      samplesPerAlpha,
    });
    const streamed = new Map<number, string>();
    const result = (await pool.run(sampled(7, 3), (m) => {
      if (m.type === "token") streamed.set(m.outputIndex, (streamed.get(m.outputIndex) ?? "") + m.text);
    })) as GenerateTaskResult;
    assert.equal(result.outputs.length, 3);
    assert.deepEqual([...streamed.keys()].sort(), [0, 1, 2]);
    result.outputs.forEach((o, i) => assert.equal(streamed.get(i), o.text));
    assert.equal(new Set(result.outputs.map((o) => o.text)).size, 3, "three different samples");
    for (const j of [1, 2]) {
      const single = (await pool.run(sampled(7 + j, 1), () => {})) as GenerateTaskResult;
      assert.equal(single.outputs[0].text, result.outputs[j]!.text, `sample ${j} = the run seeded 7 + ${j}`);
    }
  });
});
