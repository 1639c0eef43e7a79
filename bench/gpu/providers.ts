/**
 * @module bench/gpu/providers — which execution providers load on this host, as one JSON line: onnxruntime-node's
 * bundled backends, CUDA (prerequisites, then a session: gpu-runner/device), WebGPU on a hardware and on a software
 * Vulkan adapter (child-process probes, webgpu.ts), and what `auto` picks. Part of bench/gpu/device-check.sh.
 */
import { cpus } from "node:os";
import * as ort from "onnxruntime-node";
import { detectDevice, findVulkanLoader, listVulkanDrivers, missingCudaPrerequisite, probeWebGpu } from "../../src/gpu-runner/device/index.ts";

const lines: string[] = [];
const log = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) };
const attempt = async (preference: "cuda" | "webgpu") => {
  try {
    const choice = await detectDevice({ preference, threads: 1, env: {}, log });
    return { ok: true, name: choice.name, adapterClass: choice.adapterClass };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
};
const [hardware, software] = [await probeWebGpu("hardware"), await probeWebGpu("software")];
const report = {
  host: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, platform: `${process.platform}/${process.arch}` },
  onnxruntimeBackends: ort.listSupportedBackends(),
  cudaPrerequisite: missingCudaPrerequisite() ?? "present",
  cuda: await attempt("cuda"),
  vulkanLoader: findVulkanLoader(),
  vulkanDrivers: listVulkanDrivers(),
  webgpuHardware: { ok: hardware.ok, detail: hardware.detail },
  webgpuSoftware: { ok: software.ok, detail: software.detail },
  webgpu: await attempt("webgpu"),
  auto: (await detectDevice({ preference: "auto", threads: 1, env: {}, log })).provider,
  log: lines,
};
console.log(JSON.stringify(report));
