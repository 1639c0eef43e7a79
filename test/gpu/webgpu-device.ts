/**
 * @module test/gpu/webgpu-device — the WebGPU tests' device: Mesa's lavapipe (a software Vulkan driver) through
 * onnxruntime's WebGPU provider, which .ci/run installs (docs/operations.md, GPU runners). The probe's Vulkan
 * drivers are pinned in this process before any WebGPU session (gpu-runner/device). When no software adapter
 * works, `webgpuTest` fails under CI=true (CI must run these) and skips with the reason elsewhere.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { pinVulkanDrivers, probeWebGpu } from "../../src/gpu-runner/device/index.ts";

export const webgpuProbe = await probeWebGpu("software");
if (webgpuProbe.ok) pinVulkanDrivers(webgpuProbe.drivers);

const inCi = /^(1|true)$/i.test(process.env.CI ?? "");
const missing = `no software WebGPU adapter (${webgpuProbe.detail}); .ci/run installs lavapipe (mesa-vulkan-drivers from bookworm-backports) and libvulkan1`;

/** A test that needs the WebGPU provider on lavapipe. */
export function webgpuTest(name: string, fn: (t: TestContext) => Promise<void>, options: { timeout?: number } = {}): void {
  if (webgpuProbe.ok) test(name, { timeout: options.timeout ?? 300_000 }, fn);
  else if (inCi) test(name, () => assert.fail(missing));
  else test(name, { skip: missing }, () => {});
}
