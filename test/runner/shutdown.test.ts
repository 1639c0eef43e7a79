/**
 * @module test/runner/shutdown — the runner process (`npm run runner`'s entry) on a real nats-server stops in one
 * orderly path: a SIGTERM (or SIGINT followed by SIGTERM, as a terminal's Ctrl-C plus the api's stop deliver it)
 * during a training job stops the job at its next step, hands it back, releases the engine's sessions and exits 0
 * without a native abort.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import type { JobEvent } from "../../src/contracts/index.ts";
import { pkuSnapshot, trainEnvelope } from "./fixtures.ts";
import { isTerminal, openHarness, waitForEvents, type Harness } from "./harness.ts";

const progressed = (events: JobEvent[]) => events.filter((e) => e.type === "progress").length >= 1;

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

describe("runner shutdown during training", () => {
  let h: Harness;
  let data: { snapshotKey: string; snapshotSha256: string; recordCount: number };
  before(async () => {
    h = await openHarness();
    const s = pkuSnapshot();
    const stored = await h.artifacts.put("datasets/pku16.records.jsonl", s.bytes);
    data = { snapshotKey: stored.key, snapshotSha256: stored.sha256, recordCount: s.recordCount };
  });
  after(async () => {
    await h.close();
  });

  for (const signals of [["SIGTERM"], ["SIGINT", "SIGTERM"]] as const) {
    it(`${signals.join(" then ")} mid-training: one graceful stop, exit 0, no native abort, the job handed back`, async () => {
      const runner = h.spawnRunner({ PARM_RUNNER_KINDS: "train" });
      const envelope = trainEnvelope({ ...data, overrides: { epochs: 40, checkpointEvery: 0 } });
      await h.bus.publishJob(envelope);
      await waitForEvents(h.bus, envelope.jobId, progressed, 60_000);
      const exited = exitOf(runner);
      for (const signal of signals) {
        runner.kill(signal);
        await new Promise((r) => setTimeout(r, 50));
      }
      const { code, signal } = await exited;
      const logs = runner.logs();
      assert.doesNotMatch(logs, /terminate called|Napi::Error|Aborted|core dumped/, logs);
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, logs);
      assert.equal(logs.match(/stopping \(in-flight jobs are handed back\)/g)?.length, 1, logs);
      assert.doesNotMatch(logs, /exiting now/, logs);
      const events = (await h.bus.readEvents(envelope.jobId)).map((d) => d.event);
      assert.ok(!isTerminal(events), "a graceful stop reports no outcome");
      assert.ok(events.some((e) => e.type === "artifact" && e.kind === "checkpoint"), "checkpointed on shutdown");
      // Handed back: another runner finishes it.
      const successor = await h.startRunner({ kinds: ["train"] });
      const done = (await waitForEvents(h.bus, envelope.jobId, isTerminal, 180_000)).map((d) => d.event);
      assert.equal(done.at(-1)!.type, "completed", JSON.stringify(done.at(-1)));
      await successor.stop();
    });
  }
});
