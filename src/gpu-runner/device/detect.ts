/**
 * @module gpu-runner/device/detect — the runner's one decision about hardware: which onnxruntime execution
 * provider every job of this runner uses, on which adapter, and how many intra-op threads a job's sessions get.
 *
 * Preferences (`PARM_EXECUTION_PROVIDER`, settings.ts):
 * - "auto" (default): CUDA when its provider loads; else WebGPU on a *hardware* Vulkan adapter; else WebGPU on a
 *   software adapter (lavapipe) only when `allowSoftwareAdapter` (`PARM_WEBGPU_ALLOW_SOFTWARE=1`); else CPU.
 *   CUDA's prerequisites are checked without loading its provider (cuda-prerequisites.ts), so a CPU host never sees
 *   onnxruntime's red "Failed to load library" error; WebGPU is probed in a child process (webgpu.ts).
 * - "webgpu": a hardware adapter, else a software one; fails hard when neither works.
 * - "cuda": fails hard when CUDA cannot be used. "cpu" never probes.
 * Whatever is chosen is logged in ONE line, with the reasons the preferred providers were passed over. A WebGPU
 * choice pins the process's Vulkan drivers to the probed class (webgpu.ts `pinVulkanDrivers`).
 */
import { execFile } from "node:child_process";
import { availableParallelism, cpus } from "node:os";
import { createEngineSession, onnx } from "../engine/index.ts";
import { missingCudaPrerequisite } from "./cuda-prerequisites.ts";
import type { DevicePreference } from "./settings.ts";
import { pinVulkanDrivers, probeWebGpu, type AdapterClass, type WebGpuProbeResult } from "./webgpu.ts";

export type ExecutionProvider = "cpu" | "cuda" | "webgpu";

export interface DeviceChoice {
  /** What jobs pass to the engine as `executionProvider`; the heartbeat's `device`. */
  readonly provider: ExecutionProvider;
  /** The heartbeat's `deviceName`: the CPU model, the GPU's name, or the WebGPU adapter's. */
  readonly name: string;
  /** For "webgpu": whether the adapter is real hardware or a software rasterizer (lavapipe); null otherwise. */
  readonly adapterClass: AdapterClass | null;
  /** Intra-op threads per job session. */
  readonly threads: number;
  /** Why the preferred providers were not used ("; "-joined), or null when the first choice was. */
  readonly fallbackReason: string | null;
}

export class DeviceUnavailableError extends Error {
  override readonly name = "DeviceUnavailableError";
  readonly code = "DEVICE_UNAVAILABLE" as const;
}

export interface DetectDeviceOptions {
  readonly preference?: DevicePreference;
  /** "auto" may pick a software WebGPU adapter (default false). */
  readonly allowSoftwareAdapter?: boolean;
  /** Default: cores / slots, at least 1. */
  readonly threads?: number;
  readonly slots?: number;
  readonly log?: { info(message: string): void; warn(message: string): void };
  /** Probe seam for tests: resolves when a CUDA session can be created, rejects with the reason otherwise. */
  readonly probeCuda?: () => Promise<void>;
  /** Probe seam for tests (default webgpu.ts `probeWebGpu`). */
  readonly probeWebGpu?: (adapterClass: AdapterClass) => Promise<WebGpuProbeResult>;
  /** Environment whose Vulkan drivers a WebGPU choice pins (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

/** Rejects with the reason CUDA cannot be used: a missing prerequisite, else the session error. */
async function defaultProbeCuda(): Promise<void> {
  const missing = missingCudaPrerequisite();
  if (missing !== null) throw new DeviceUnavailableError(missing);
  const g = new onnx.GraphBuilder("cuda-probe");
  const x = g.input("x", "float32", [1]);
  g.output(g.identity(x), "y");
  const session = await createEngineSession(g.serialize(), { executionProvider: "cuda" });
  await session.release();
}

function nvidiaGpuName(): Promise<string | null> {
  return new Promise((resolve) => {
    execFile("nvidia-smi", ["--query-gpu=name", "--format=csv,noheader"], { timeout: 5000 }, (error, stdout) => {
      resolve(error ? null : stdout.split("\n")[0].trim() || null);
    });
  });
}

function firstLine(text: string): string {
  return text.split("\n")[0].slice(0, 200);
}

async function cudaReason(probe: () => Promise<void>): Promise<string | null> {
  try {
    await probe();
    return null;
  } catch (error) {
    return firstLine(error instanceof Error ? error.message : String(error));
  }
}

/** The adapter's display name: nvidia-smi's for NVIDIA's Vulkan driver, else the probe's. */
async function adapterName(result: WebGpuProbeResult): Promise<string> {
  if (result.drivers.some((d) => /nvidia/i.test(d.library))) return (await nvidiaGpuName()) ?? result.detail;
  return result.detail;
}

export async function detectDevice(options: DetectDeviceOptions = {}): Promise<DeviceChoice> {
  const preference = options.preference ?? "auto";
  const slots = Math.max(1, options.slots ?? 1);
  const threads = options.threads ?? Math.max(1, Math.floor(availableParallelism() / slots));
  if (!Number.isInteger(threads) || threads < 1) throw new DeviceUnavailableError(`threads must be an integer >= 1, got ${threads}`);
  const cpuName = cpus()[0]?.model?.trim() || "cpu";
  const probeGpu = options.probeWebGpu ?? ((c: AdapterClass) => probeWebGpu(c));
  const log = (choice: DeviceChoice): DeviceChoice => {
    const adapter = choice.adapterClass ? `, ${choice.adapterClass} adapter` : "";
    options.log?.info(`device: ${choice.provider} (${choice.name}${adapter}), ${threads} threads per job${choice.fallbackReason ? `; ${choice.fallbackReason}` : ""}`);
    return choice;
  };
  const cpu = (fallbackReason: string | null): DeviceChoice => log({ provider: "cpu", name: cpuName, adapterClass: null, threads, fallbackReason });
  const webgpu = async (result: WebGpuProbeResult, fallbackReason: string | null): Promise<DeviceChoice> => {
    pinVulkanDrivers(result.drivers, options.env ?? process.env);
    return log({ provider: "webgpu", name: await adapterName(result), adapterClass: result.adapterClass, threads, fallbackReason });
  };
  switch (preference) {
    case "cpu":
      return cpu(null);
    case "cuda": {
      const reason = await cudaReason(options.probeCuda ?? defaultProbeCuda);
      if (reason !== null) throw new DeviceUnavailableError(`the CUDA execution provider cannot be used: ${reason}`);
      return log({ provider: "cuda", name: (await nvidiaGpuName()) ?? "gpu", adapterClass: null, threads, fallbackReason: null });
    }
    case "webgpu": {
      const hardware = await probeGpu("hardware");
      if (hardware.ok) return webgpu(hardware, null);
      const software = await probeGpu("software");
      if (software.ok) return webgpu(software, `no hardware WebGPU adapter: ${hardware.detail}`);
      throw new DeviceUnavailableError(`the WebGPU execution provider cannot be used: hardware: ${hardware.detail}; software: ${software.detail}`);
    }
    case "auto": {
      const cuda = await cudaReason(options.probeCuda ?? defaultProbeCuda);
      if (cuda === null) return log({ provider: "cuda", name: (await nvidiaGpuName()) ?? "gpu", adapterClass: null, threads, fallbackReason: null });
      const reasons = [`CUDA unavailable: ${cuda}`];
      const hardware = await probeGpu("hardware");
      if (hardware.ok) return webgpu(hardware, reasons.join("; "));
      reasons.push(`no hardware WebGPU adapter: ${hardware.detail}`);
      if (options.allowSoftwareAdapter) {
        const software = await probeGpu("software");
        if (software.ok) return webgpu(software, reasons.join("; "));
        reasons.push(`no software WebGPU adapter: ${software.detail}`);
      }
      return cpu(reasons.join("; "));
    }
    default:
      throw new DeviceUnavailableError(`unknown device preference ${JSON.stringify(preference satisfies never)}`);
  }
}
