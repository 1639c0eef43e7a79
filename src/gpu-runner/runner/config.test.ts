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
    assert.deepEqual(c.device, { preference: "auto", allowSoftwareAdapter: false });
    assert.deepEqual(loadRunnerConfig({ NATS_URL: "x", PARM_EXECUTION_PROVIDER: "webgpu", PARM_WEBGPU_ALLOW_SOFTWARE: "1" }).device, { preference: "webgpu", allowSoftwareAdapter: true });
    assert.equal(c.threads, undefined);
    assert.deepEqual([c.ackWaitMs, c.maxDeliver, c.namespace], [30_000, 5, ""]);
    assert.match(c.runnerId, /^[A-Za-z0-9_-]+$/);
  });
  it("PARM_BUS=ipc needs no NATS_URL (the parent's bus over IPC); other values are refused", () => {
    const c = loadRunnerConfig({ PARM_BUS: "ipc", NATS_URL: "nats://ignored:4222" });
    assert.equal(c.bus, "ipc");
    assert.equal(c.natsUrl, undefined);
    assert.equal(loadRunnerConfig({ NATS_URL: "nats://h:4222" }).bus, "jetstream");
    assert.throws(() => loadRunnerConfig({ PARM_BUS: "inprocess" }), (e: unknown) => e instanceof RunnerConfigError && /PARM_BUS/.test(e.message));
  });
  it("names the bad variable", () => {
    assert.throws(() => loadRunnerConfig({}), (e: unknown) => e instanceof RunnerConfigError && /NATS_URL/.test(e.message));
    assert.throws(() => loadRunnerConfig({ NATS_URL: "x", PARM_RUNNER_SLOTS: "0" }), /PARM_RUNNER_SLOTS must be an integer >= 1/);
    assert.throws(() => loadRunnerConfig({ NATS_URL: "x", PARM_RUNNER_KINDS: "train,dance" }), /"dance"/);
    assert.throws(() => loadRunnerConfig({ NATS_URL: "x", PARM_EXECUTION_PROVIDER: "tpu" }), (e: unknown) => e instanceof RunnerConfigError && /PARM_EXECUTION_PROVIDER must be one of auto, cpu, webgpu, cuda/.test(e.message));
    assert.throws(() => loadRunnerConfig({ NATS_URL: "x", PARM_WEBGPU_ALLOW_SOFTWARE: "yes" }), /PARM_WEBGPU_ALLOW_SOFTWARE/);
    assert.throws(() => loadRunnerConfig({ NATS_URL: "x", PARM_RUNNER_ID: "a.b" }), /PARM_RUNNER_ID/);
  });
});
