import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { detectDevice, DeviceUnavailableError } from "./detect.ts";
import type { AdapterClass, WebGpuProbeResult } from "./webgpu.ts";

const lavapipe = { manifest: "/icd/lvp_icd.json", library: "libvulkan_lvp.so", adapterClass: "software" as const, name: "llvmpipe (Mesa lavapipe)" };
const radv = { manifest: "/icd/radeon_icd.json", library: "libvulkan_radeon.so", adapterClass: "hardware" as const, name: "Mesa radeon" };

/** A WebGPU probe seam: which classes work; records the classes asked for. */
function gpuProbe(works: readonly AdapterClass[], asked: AdapterClass[] = []) {
  return async (c: AdapterClass): Promise<WebGpuProbeResult> => {
    asked.push(c);
    const drivers = c === "software" ? [lavapipe] : [radv];
    return works.includes(c) ? { ok: true, adapterClass: c, drivers, detail: drivers[0].name } : { ok: false, adapterClass: c, drivers: [], detail: `no ${c} adapter here` };
  };
}
const noCuda = async () => {
  throw new Error("libonnxruntime_providers_shared.so: cannot open shared object file\nmore");
};

describe("detectDevice", () => {
  it("auto falls back to CPU with one log line saying why CUDA and a hardware WebGPU adapter were passed over; no software adapter unless allowed", async () => {
    const lines: string[] = [];
    const asked: AdapterClass[] = [];
    const choice = await detectDevice({ preference: "auto", threads: 3, log: { info: (m) => lines.push(m), warn: (m) => lines.push(m) }, probeCuda: noCuda, probeWebGpu: gpuProbe(["software"], asked), env: {} });
    assert.equal(choice.provider, "cpu");
    assert.equal(choice.threads, 3);
    assert.deepEqual(asked, ["hardware"]);
    assert.match(choice.fallbackReason ?? "", /providers_shared.*no hardware WebGPU adapter: no hardware adapter here/);
    assert.equal(lines.length, 1);
    assert.match(lines[0], /^device: cpu .*CUDA unavailable: .*providers_shared.*; no hardware WebGPU adapter/);
  });

  it("auto: CUDA when it loads; else a hardware WebGPU adapter; a software one only with allowSoftwareAdapter", async () => {
    assert.equal((await detectDevice({ preference: "auto", probeCuda: async () => {}, probeWebGpu: gpuProbe(["hardware"]) })).provider, "cuda");
    const env: NodeJS.ProcessEnv = {};
    const hw = await detectDevice({ preference: "auto", probeCuda: noCuda, probeWebGpu: gpuProbe(["hardware", "software"]), env });
    assert.deepEqual([hw.provider, hw.adapterClass, hw.name], ["webgpu", "hardware", "Mesa radeon"]);
    assert.equal(env.VK_DRIVER_FILES, "/icd/radeon_icd.json", "the probed drivers are pinned for the process's sessions");
    const sw = await detectDevice({ preference: "auto", allowSoftwareAdapter: true, probeCuda: noCuda, probeWebGpu: gpuProbe(["software"]), env: {} });
    assert.deepEqual([sw.provider, sw.adapterClass, sw.name], ["webgpu", "software", "llvmpipe (Mesa lavapipe)"]);
    assert.match(sw.fallbackReason ?? "", /CUDA unavailable.*no hardware WebGPU adapter/);
    const none = await detectDevice({ preference: "auto", allowSoftwareAdapter: true, probeCuda: noCuda, probeWebGpu: gpuProbe([]), env: {} });
    assert.equal(none.provider, "cpu");
    assert.match(none.fallbackReason ?? "", /no software WebGPU adapter: no software adapter here/);
  });

  it("webgpu takes a hardware adapter first, else a software one, and fails hard with both reasons; an operator's VK_DRIVER_FILES is kept", async () => {
    const env: NodeJS.ProcessEnv = { VK_DRIVER_FILES: "/mine.json" };
    const sw = await detectDevice({ preference: "webgpu", probeCuda: noCuda, probeWebGpu: gpuProbe(["software"]), env });
    assert.deepEqual([sw.provider, sw.adapterClass], ["webgpu", "software"]);
    assert.equal(env.VK_DRIVER_FILES, "/mine.json");
    await assert.rejects(detectDevice({ preference: "webgpu", probeWebGpu: gpuProbe([]), env: {} }), (e: unknown) => e instanceof DeviceUnavailableError && e.code === "DEVICE_UNAVAILABLE" && /WebGPU.*hardware: no hardware adapter here; software: no software adapter here/.test(e.message));
  });

  it("cuda fails hard without CUDA naming what is missing; cpu never probes", async () => {
    await assert.rejects(detectDevice({ preference: "cuda", probeCuda: noCuda }), (e: unknown) => e instanceof DeviceUnavailableError && /CUDA execution provider cannot be used: libonnxruntime_providers_shared\.so/.test(e.message));
    let probed = false;
    const cpu = await detectDevice({ preference: "cpu", slots: 1, probeCuda: async () => void (probed = true), probeWebGpu: async (c) => ((probed = true), gpuProbe([])(c)) });
    assert.equal(cpu.provider, "cpu");
    assert.equal(probed, false);
    assert.ok(cpu.threads >= 1);
  });

  it("the real probes on this machine answer (a CPU host falls back to CPU, naming why)", async () => {
    const choice = await detectDevice({ preference: "auto", threads: 1, env: {} });
    assert.ok(["cpu", "cuda", "webgpu"].includes(choice.provider));
    if (choice.provider === "cpu") assert.match(choice.fallbackReason ?? "", /CUDA unavailable: .*; no hardware WebGPU adapter: /);
  });

  it("the real cuda preference on a host without CUDA is a DeviceUnavailableError naming the missing piece", async (t) => {
    const choice = await detectDevice({ preference: "auto", threads: 1, env: {} });
    if (choice.provider === "cuda") return t.skip("this host has CUDA");
    await assert.rejects(detectDevice({ preference: "cuda", threads: 1 }), (e: unknown) => e instanceof DeviceUnavailableError && /no NVIDIA GPU device|without its CUDA provider|no CUDA provider for/.test(e.message));
  });
});
