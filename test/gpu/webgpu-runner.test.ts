/**
 * @module test/gpu/webgpu-runner.test — a runner process (`npm run runner`'s entry) with
 * PARM_EXECUTION_PROVIDER=webgpu on lavapipe (webgpu-device.ts): it logs one device line naming the adapter, its
 * heartbeat carries device "webgpu" and the adapter's name (as the api's `runners` query reads it), and a greedy
 * generate job on stories260K streams the same text as the CPU engine in this process.
 */
import { after, before } from "node:test";
import assert from "node:assert/strict";
import { readRunnerHeartbeats } from "../../src/api/ingest/runner-registry.ts";
import type { JobEventOf } from "../../src/contracts/index.ts";
import { createGenerator } from "../../src/gpu-runner/engine/decode/index.ts";
import { loadGguf } from "../../src/gpu-runner/engine/model/gguf.ts";
import { generateEnvelope, STORIES_GGUF_PATH } from "../runner/fixtures.ts";
import { isTerminal, openHarness, waitFor, waitForEvents, type Harness } from "../runner/harness.ts";
import { webgpuProbe, webgpuTest } from "./webgpu-device.ts";

let h: Harness | undefined;
before(async () => {
  if (webgpuProbe.ok) h = await openHarness();
});
after(async () => {
  await h?.close();
});

webgpuTest("a runner asked for webgpu uses it: one device line, heartbeat device and adapter name, generation equal to CPU", async () => {
  const runner = h!.spawnRunner({ PARM_EXECUTION_PROVIDER: "webgpu", PARM_RUNNER_KINDS: "generate" });
  const info = await waitFor("the webgpu runner's heartbeat", async () => (await readRunnerHeartbeats(h!.bus.runners)).find((r) => r.runnerId.startsWith("child-runner-")), 120_000);
  assert.equal(info.device, "webgpu");
  assert.match(info.deviceName ?? "", /llvmpipe|lavapipe/);
  const deviceLines = runner.logs().split("\n").filter((l) => l.includes('"device: '));
  assert.equal(deviceLines.length, 1, runner.logs());
  assert.match(deviceLines[0], /device: webgpu \(llvmpipe \(Mesa lavapipe\), software adapter\)/);

  const envelope = generateEnvelope({ adapterKey: null, maxTokens: 10 });
  await h!.bus.publishJob(envelope);
  const events = (await waitForEvents(h!.bus, envelope.jobId, isTerminal, 180_000)).map((d) => d.event);
  const completed = events[events.length - 1] as JobEventOf<"completed">;
  assert.equal(completed.type, "completed", `${JSON.stringify(completed)}\n${runner.logs()}`);
  const started = events.find((e) => e.type === "started") as JobEventOf<"started">;
  assert.equal(started.device, "webgpu");

  const model = await loadGguf(STORIES_GGUF_PATH);
  const cpu = createGenerator({ base: model, threads: 1, executionProvider: "cpu" });
  try {
    const expected = await cpu.generate({ prompt: "Once upon a time", maxNewTokens: 10 });
    assert.equal(completed.outputs?.[0].text, expected.outputs[0].text);
    assert.equal(completed.outputs?.[0].tokenCount, 10);
  } finally {
    await cpu.release();
  }
});
