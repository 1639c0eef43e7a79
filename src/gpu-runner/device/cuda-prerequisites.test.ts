import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CUDA_PROVIDER_LIBRARIES, missingCudaPrerequisite, onnxruntimeBindingDir } from "./cuda-prerequisites.ts";

const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

describe("missingCudaPrerequisite", () => {
  const dir = "/ort/bin";
  const present = (paths: string[]) => (p: string) => paths.includes(p);
  const libs = CUDA_PROVIDER_LIBRARIES.map((l) => join(dir, l));

  it("names the missing device node first, then the missing provider libraries; null when all are there", () => {
    assert.match(missingCudaPrerequisite({ exists: present(libs), bindingDir: dir, platform: "linux" })!, /no NVIDIA GPU device/);
    const noLibs = missingCudaPrerequisite({ exists: present(["/dev/nvidia0"]), bindingDir: dir, platform: "linux" })!;
    assert.match(noLibs, /installed without its CUDA provider/);
    assert.match(noLibs, /libonnxruntime_providers_shared\.so, libonnxruntime_providers_cuda\.so not in \/ort\/bin/);
    assert.equal(missingCudaPrerequisite({ exists: present(["/dev/nvidiactl", ...libs]), bindingDir: dir, platform: "linux" }), null);
    assert.match(missingCudaPrerequisite({ exists: () => true, bindingDir: dir, platform: "darwin" })!, /no CUDA provider for darwin/);
  });

  it("resolves the installed binding folder", () => {
    assert.ok(existsSync(join(onnxruntimeBindingDir(), "onnxruntime_binding.node")), onnxruntimeBindingDir());
  });

  it("a runner's device detection on this host writes one line and nothing from onnxruntime to stderr", async () => {
    const script = `import { detectDevice } from "./src/gpu-runner/device/index.ts";
      await detectDevice({ preference: "auto", threads: 1, log: { info: (m) => console.error(m), warn: (m) => console.error(m) } });`;
    const stderr = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ["--import", "@swc-node/register/esm-register", "--input-type=module", "-e", script], { cwd: REPO_ROOT, timeout: 60_000 }, (error, _stdout, err) =>
        error ? reject(Object.assign(error, { stderr: err })) : resolve(err),
      );
    });
    const lines = stderr.trim().split("\n");
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0]!, /^device: (cpu|cuda|webgpu) /);
    assert.doesNotMatch(stderr, /onnxruntime:|Failed to load library|\x1b\[/);
  });
});
