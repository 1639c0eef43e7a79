import { test } from "node:test";
import assert from "node:assert/strict";
import { ContractValidationError, JOB_EVENT_TYPES, parseJobEvent, type JobEvent } from "./index.ts";

const valid: JobEvent[] = [
  { type: "started", runnerId: "r1", attempt: 1, device: "cpu", resumedFromStep: 0 },
  { type: "progress", step: 10, totalSteps: 100, percent: 10, etaSeconds: 90, lossPerObjective: [0.69, 0.71], tokensPerSecond: 1200 },
  { type: "token", outputIndex: 2, position: 0, tokenId: 17, text: "Once" },
  { type: "point", index: 3, alpha: [0.3, 0.7], rewards: [-1.2, 0.4], promptCount: 8 },
  { type: "artifact", kind: "adapter", key: "adapters/a1.bin", sha256: "a".repeat(64), sizeBytes: 1024 },
  { type: "completed", durationSeconds: 12.5, metrics: { "loss.helpful": 0.5 }, artifactKey: "adapters/a1.bin" },
  { type: "failed", code: "OUT_OF_MEMORY", reason: "batchSize 64 does not fit; lower batchSize", retryable: false },
];

test("one valid example per event type parses unchanged", () => {
  assert.deepEqual(new Set(valid.map((e) => e.type)), new Set(JOB_EVENT_TYPES));
  for (const event of valid) assert.deepEqual(parseJobEvent(JSON.parse(JSON.stringify(event))), event);
});

test("invalid events name the field", () => {
  const cases: [unknown, string][] = [
    [{ type: "progress", step: 1, totalSteps: 2, percent: 120, etaSeconds: null, lossPerObjective: [], tokensPerSecond: 1 }, "percent"],
    [{ type: "failed", code: "OUT_OF_MEMORY", reason: "", retryable: true }, "reason"],
    [{ type: "failed", code: "SOMETHING", reason: "x", retryable: true }, "code"],
    [{ type: "artifact", kind: "adapter", key: "k", sha256: "xyz", sizeBytes: 1 }, "sha256"],
    [{ type: "exploded" }, "type"],
  ];
  for (const [value, field] of cases) {
    assert.throws(
      () => parseJobEvent(value),
      (error: unknown) => error instanceof ContractValidationError && error.issues.some((i) => i.path === field),
      field,
    );
  }
});

test("runner heartbeat schema", async () => {
  const { parseRunnerHeartbeat } = await import("./index.ts");
  const beat = { runnerId: "runner-1", version: "0.1.0", hostname: "gpu-a", device: "cuda", kinds: ["train", "generate"], totalSlots: 2, freeSlots: 1, loadedModels: ["m1"], runningJobIds: ["j1"], at: new Date().toISOString() };
  assert.deepEqual(parseRunnerHeartbeat(beat), beat);
  assert.throws(() => parseRunnerHeartbeat({ ...beat, kinds: ["cook"] }), (e: unknown) => e instanceof ContractValidationError && e.issues.some((i) => i.path === "kinds.0"));
});
