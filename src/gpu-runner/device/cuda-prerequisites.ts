/**
 * @module gpu-runner/device/cuda-prerequisites — what must be present before onnxruntime is asked for the CUDA
 * execution provider. Asking without them makes onnxruntime print a red `[E:onnxruntime:…] Failed to load library
 * libonnxruntime_providers_shared.so` line on stderr (its native logger, which no session option silences) before
 * the session call fails; checking first lets a CPU host log one informative line instead.
 *
 * Checked, in order: an NVIDIA device node (`/dev/nvidiactl` or `/dev/nvidia0`: the driver is loaded and a GPU is
 * visible to this process or container), then the CUDA provider libraries beside onnxruntime-node's binding
 * (`libonnxruntime_providers_shared.so`, `libonnxruntime_providers_cuda.so`; onnxruntime-node's postinstall fetches
 * them only when not skipped, docs/runners.md). The CUDA runtime libraries themselves (libcudart, cuDNN) are left
 * to onnxruntime: when the prerequisites hold and those are missing, its own error is the informative one.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

export const NVIDIA_DEVICE_NODES = ["/dev/nvidiactl", "/dev/nvidia0"] as const;
export const CUDA_PROVIDER_LIBRARIES = ["libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"] as const;

export interface CudaPrerequisiteOptions {
  /** File-existence seam for tests (default `fs.existsSync`). */
  readonly exists?: (path: string) => boolean;
  /** Folder of onnxruntime-node's native binding (default: resolved from the installed package). */
  readonly bindingDir?: string;
  readonly platform?: NodeJS.Platform;
}

/** The folder holding onnxruntime-node's `onnxruntime_binding.node` for this platform and architecture. */
export function onnxruntimeBindingDir(): string {
  const packageJson = createRequire(import.meta.url).resolve("onnxruntime-node/package.json");
  return join(dirname(packageJson), "bin", "napi-v6", process.platform, process.arch);
}

/** Why CUDA cannot be used on this host, or null when onnxruntime may be asked for it. Never loads onnxruntime. */
export function missingCudaPrerequisite(options: CudaPrerequisiteOptions = {}): string | null {
  const exists = options.exists ?? existsSync;
  const platform = options.platform ?? process.platform;
  if (platform !== "linux") return `onnxruntime-node has no CUDA provider for ${platform}`;
  if (!NVIDIA_DEVICE_NODES.some((node) => exists(node))) return `no NVIDIA GPU device (${NVIDIA_DEVICE_NODES.join(", ")} absent)`;
  const dir = options.bindingDir ?? onnxruntimeBindingDir();
  const missing = CUDA_PROVIDER_LIBRARIES.filter((lib) => !exists(join(dir, lib)));
  if (missing.length > 0) return `onnxruntime-node was installed without its CUDA provider (${missing.join(", ")} not in ${dir})`;
  return null;
}
