/**
 * @module gpu-runner/device/detect — the runner's one decision about hardware: which onnxruntime execution
 * provider every job of this runner uses, and how many intra-op threads a job's sessions get.
 *
 * `preference` "auto" (default) first checks the CUDA prerequisites without loading onnxruntime's CUDA provider
 * (an NVIDIA device node, the provider libraries: cuda-prerequisites.ts), so a CPU host never sees onnxruntime's red
 * "Failed to load library" error; only when they hold does it create a one-node session with the CUDA provider.
 * When either step fails it falls back to CPU and logs ONE line saying why. "cuda" fails hard when CUDA cannot be
 * used; "cpu" never probes.
 */
import { execFile } from "node:child_process";
import { availableParallelism, cpus } from "node:os";
import { createEngineSession, onnx } from "../engine/index.ts";
import { missingCudaPrerequisite } from "./cuda-prerequisites.ts";

export type DevicePreference = "cpu" | "cuda" | "auto";

export interface DeviceChoice {
  /** What jobs pass to the engine as `executionProvider`. */
  readonly provider: "cpu" | "cuda";
  /** "cpu" or "cuda": the heartbeat's `device` field is `${provider}:${name}`. */
  readonly name: string;
  /** Intra-op threads per job session. */
  readonly threads: number;
  /** Why CUDA was not used (null when it is, or was not asked for). */
  readonly fallbackReason: string | null;
}

export class DeviceUnavailableError extends Error {
  override readonly name = "DeviceUnavailableError";
  readonly code = "DEVICE_UNAVAILABLE" as const;
}

export interface DetectDeviceOptions {
  readonly preference?: DevicePreference;
  /** Default: cores / slots, at least 1. */
  readonly threads?: number;
  readonly slots?: number;
  readonly log?: { info(message: string): void; warn(message: string): void };
  /** Probe seam for tests: resolves when a CUDA session can be created, rejects with the reason otherwise. */
  readonly probeCuda?: () => Promise<void>;
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

function gpuName(): Promise<string> {
  return new Promise((resolve) => {
    execFile("nvidia-smi", ["--query-gpu=name", "--format=csv,noheader"], { timeout: 5000 }, (error, stdout) => {
      resolve(error ? "gpu" : stdout.split("\n")[0].trim() || "gpu");
    });
  });
}

function firstLine(text: string): string {
  return text.split("\n")[0].slice(0, 200);
}

export async function detectDevice(options: DetectDeviceOptions = {}): Promise<DeviceChoice> {
  const preference = options.preference ?? "auto";
  const slots = Math.max(1, options.slots ?? 1);
  const threads = options.threads ?? Math.max(1, Math.floor(availableParallelism() / slots));
  if (!Number.isInteger(threads) || threads < 1) throw new DeviceUnavailableError(`threads must be an integer >= 1, got ${threads}`);
  const cpuName = cpus()[0]?.model?.trim() || "cpu";
  switch (preference) {
    case "cpu":
      options.log?.info(`device: cpu (${cpuName}), ${threads} threads per job`);
      return { provider: "cpu", name: cpuName, threads, fallbackReason: null };
    case "cuda":
    case "auto": {
      try {
        await (options.probeCuda ?? defaultProbeCuda)();
      } catch (error) {
        const reason = firstLine(error instanceof Error ? error.message : String(error));
        if (preference === "cuda") throw new DeviceUnavailableError(`the CUDA execution provider cannot be used: ${reason}`, { cause: error });
        options.log?.info(`device: cpu (${cpuName}), ${threads} threads per job; CUDA unavailable: ${reason}`);
        return { provider: "cpu", name: cpuName, threads, fallbackReason: reason };
      }
      const name = await gpuName();
      options.log?.info(`device: cuda (${name}), ${threads} threads per job`);
      return { provider: "cuda", name, threads, fallbackReason: null };
    }
    default:
      throw new DeviceUnavailableError(`unknown device preference ${JSON.stringify(preference satisfies never)}`);
  }
}
