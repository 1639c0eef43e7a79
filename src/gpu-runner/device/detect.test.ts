import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { detectDevice, DeviceUnavailableError } from "./detect.ts";

describe("detectDevice", () => {
  it("auto falls back to CPU with one log line saying why", async () => {
    const lines: string[] = [];
    const choice = await detectDevice({
      preference: "auto",
      threads: 3,
      log: { info: (m) => lines.push(m), warn: (m) => lines.push(m) },
      probeCuda: async () => {
        throw new Error("libonnxruntime_providers_shared.so: cannot open shared object file\nmore");
      },
    });
    assert.equal(choice.provider, "cpu");
    assert.equal(choice.threads, 3);
    assert.match(choice.fallbackReason ?? "", /providers_shared/);
    assert.equal(lines.length, 1);
    assert.match(lines[0], /^device: cpu .*CUDA unavailable: .*providers_shared/);
  });
  it("auto uses CUDA when the probe succeeds; cuda fails hard without it; cpu never probes", async () => {
    assert.equal((await detectDevice({ preference: "auto", probeCuda: async () => {} })).provider, "cuda");
    await assert.rejects(detectDevice({ preference: "cuda", probeCuda: async () => Promise.reject(new Error("no")) }), DeviceUnavailableError);
    let probed = false;
    const cpu = await detectDevice({ preference: "cpu", slots: 1, probeCuda: async () => void (probed = true) });
    assert.equal(cpu.provider, "cpu");
    assert.equal(probed, false);
    assert.ok(cpu.threads >= 1);
  });
  it("the real probe on this machine answers (CPU-only builds fall back)", async () => {
    const choice = await detectDevice({ preference: "auto", threads: 1 });
    assert.ok(choice.provider === "cpu" || choice.provider === "cuda");
    if (choice.provider === "cpu") assert.ok(choice.fallbackReason);
  });
});
