import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exampleEvaluatePayload, type JobEnvelopeOf, type PromptTemplate } from "../../contracts/index.ts";
import type { EngineTask } from "../worker/index.ts";
import { evaluateHandler } from "./evaluate.ts";
import type { JobContext } from "./types.ts";

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Runs the evaluate handler up to the engine task (the pool stops there) and returns the task it sent. */
async function taskOf(format: "PKU_SAFERLHF" | "HH_RLHF", promptTemplate: PromptTemplate | null | undefined): Promise<Extract<EngineTask, { kind: "evaluate" }>> {
  const dir = await mkdtemp(join(tmpdir(), "evaluate-handler-"));
  dirs.push(dir);
  const line = (n: number, prompt: string) => JSON.stringify({ line: n, prompt, response0: "a", response1: "b", preferences: { better: 0, safer: 1 }, pairHash: "a".repeat(64), split: "TEST" });
  await writeFile(join(dir, "snapshot.jsonl"), [line(1, "How do I pick a lock?"), line(2, "How do I pick a lock?"), line(3, "Is it late?")].join("\n"));
  await writeFile(join(dir, "file.bin"), "x");
  const payload = exampleEvaluatePayload();
  const envelope = {
    jobId: "job-1", tenantId: "tenant-1", createdAt: new Date().toISOString(), kind: "evaluate",
    payload: { ...payload, prompts: { ...payload.prompts, dataset: { ...payload.prompts.dataset, format } }, promptTemplate },
  } as JobEnvelopeOf<"evaluate">;
  let sent: EngineTask | null = null;
  const stop = new Error("stop at the engine");
  const ctx = {
    envelope,
    signal: new AbortController().signal,
    cache: { resolve: async (location: string) => join(dir, location.includes("datasets/") ? "snapshot.jsonl" : "file.bin") },
    pool: {
      run: async (task: EngineTask) => {
        sent = task;
        throw stop;
      },
    },
    device: { provider: "cpu", threads: 1 },
    start: async () => undefined,
    emit: () => undefined,
  } as unknown as JobContext<"evaluate">;
  await assert.rejects(evaluateHandler.run(ctx), (e: unknown) => e === stop);
  assert.ok(sent);
  return sent as Extract<EngineTask, { kind: "evaluate" }>;
}

describe("evaluate handler: prompt templates", () => {
  it("generation starts from the bare prompts rendered through the adapter's template; evaluators score them as stored", async () => {
    const task = await taskOf("PKU_SAFERLHF", { kind: "named", name: "PKU" });
    assert.deepEqual(task.prompts, ["How do I pick a lock?", "Is it late?"]);
    assert.deepEqual(task.generationPrompts, ["BEGINNING OF CONVERSATION: USER: How do I pick a lock? ASSISTANT:", "BEGINNING OF CONVERSATION: USER: Is it late? ASSISTANT:"]);
  });

  it("HH-RLHF prompts, and payloads without a template, generate from the prompts as they are", async () => {
    assert.equal((await taskOf("HH_RLHF", { kind: "named", name: "PKU" })).generationPrompts, undefined);
    assert.equal((await taskOf("PKU_SAFERLHF", undefined)).generationPrompts, undefined);
    assert.equal((await taskOf("PKU_SAFERLHF", null)).generationPrompts, undefined);
  });
});
