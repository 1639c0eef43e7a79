import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadRunnerConfig, RunnerConfigError } from "./config.ts";

describe("loadRunnerConfig", () => {
  it("reads the environment with defaults", () => {
    const c = loadRunnerConfig({ NATS_URL: "nats://h:4222", PARM_RUNNER_SLOTS: "2", PARM_RUNNER_KINDS: "train, generate", PARM_DATA_DIR: "/d" });
    assert.equal(c.natsUrl, "nats://h:4222");
    assert.equal(c.slots, 2);
    assert.deepEqual(c.kinds, ["train", "generate"]);
    assert.equal(c.cacheDir, "/d/runner-cache");
    assert.equal(c.devicePreference, "auto");
    assert.equal(c.threads, undefined);
    assert.deepEqual([c.ackWaitMs, c.maxDeliver, c.namespace], [30_000, 5, ""]);
    assert.match(c.runnerId, /^[A-Za-z0-9_-]+$/);
  });
  it("names the bad variable", () => {
    assert.throws(() => loadRunnerConfig({}), (e: unknown) => e instanceof RunnerConfigError && /NATS_URL/.test(e.message));
    assert.throws(() => loadRunnerConfig({ NATS_URL: "x", PARM_RUNNER_SLOTS: "0" }), /PARM_RUNNER_SLOTS must be an integer >= 1/);
    assert.throws(() => loadRunnerConfig({ NATS_URL: "x", PARM_RUNNER_KINDS: "train,dance" }), /"dance"/);
    assert.throws(() => loadRunnerConfig({ NATS_URL: "x", PARM_EXECUTION_PROVIDER: "tpu" }), /PARM_EXECUTION_PROVIDER/);
    assert.throws(() => loadRunnerConfig({ NATS_URL: "x", PARM_RUNNER_ID: "a.b" }), /PARM_RUNNER_ID/);
  });
});
