import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { candidateDrivers, findVulkanLoader, listVulkanDrivers, pinVulkanDrivers, probeWebGpu } from "./webgpu.ts";
import { deviceSettingsFromEnv, DeviceSettingsError } from "./settings.ts";

/** A fake host: files (path → content) and folders (path → names). */
function host(files: Record<string, string>, env: NodeJS.ProcessEnv = { HOME: "/root" }) {
  const dirs: Record<string, string[]> = {};
  for (const path of Object.keys(files)) {
    const slash = path.lastIndexOf("/");
    (dirs[path.slice(0, slash)] ??= []).push(path.slice(slash + 1));
  }
  return {
    env,
    exists: (p: string) => p in files || p in dirs,
    listDir: (d: string) => dirs[d] ?? [],
    readText: (p: string) => {
      if (!(p in files)) throw new Error(`ENOENT ${p}`);
      return files[p];
    },
  };
}
const icd = (library: string) => JSON.stringify({ file_format_version: "1.0.0", ICD: { library_path: library, api_version: "1.3.0" } });
const LOADER = "/usr/lib/x86_64-linux-gnu/libvulkan.so.1";

describe("Vulkan driver discovery", () => {
  it("classifies manifests: lavapipe and SwiftShader are software, the rest hardware; unreadable manifests are ignored", () => {
    const h = host({
      [LOADER]: "",
      "/usr/share/vulkan/icd.d/lvp_icd.json": icd("libvulkan_lvp.so"),
      "/usr/share/vulkan/icd.d/radeon_icd.json": icd("libvulkan_radeon.so"),
      "/etc/vulkan/icd.d/nvidia_icd.json": icd("libGLX_nvidia.so.0"),
      "/usr/local/share/vulkan/icd.d/sw.json": icd("/opt/sw/libvk_swiftshader.so"),
      "/usr/share/vulkan/icd.d/broken.json": "{",
    });
    const drivers = listVulkanDrivers(h);
    assert.deepEqual(drivers.map((d) => [d.library, d.adapterClass]), [
      ["libGLX_nvidia.so.0", "hardware"],
      ["/opt/sw/libvk_swiftshader.so", "software"],
      ["libvulkan_lvp.so", "software"],
      ["libvulkan_radeon.so", "hardware"],
    ]);
    assert.equal(drivers.find((d) => d.library === "libvulkan_lvp.so")!.name, "llvmpipe (Mesa lavapipe)");
  });

  it("VK_DRIVER_FILES replaces the search folders", () => {
    const h = host({ [LOADER]: "", "/usr/share/vulkan/icd.d/radeon_icd.json": icd("libvulkan_radeon.so"), "/opt/lvp.json": icd("libvulkan_lvp.so") }, { HOME: "/root", VK_DRIVER_FILES: "/opt/lvp.json" });
    assert.deepEqual(listVulkanDrivers(h).map((d) => d.manifest), ["/opt/lvp.json"]);
  });

  it("a hardware driver counts only with its device nodes; missing loader or drivers are named", () => {
    const files = { [LOADER]: "", "/usr/share/vulkan/icd.d/nvidia_icd.json": icd("libGLX_nvidia.so.0"), "/usr/share/vulkan/icd.d/radeon_icd.json": icd("libvulkan_radeon.so") };
    assert.match(candidateDrivers("hardware", host(files)).reason ?? "", /no GPU device node for the Vulkan drivers libGLX_nvidia\.so\.0, libvulkan_radeon\.so/);
    assert.deepEqual(candidateDrivers("hardware", host({ ...files, "/dev/nvidia0": "" })).drivers.map((d) => d.library), ["libGLX_nvidia.so.0"]);
    assert.deepEqual(candidateDrivers("hardware", host({ ...files, "/dev/dri/renderD128": "" })).drivers.map((d) => d.library), ["libvulkan_radeon.so"]);
    assert.match(candidateDrivers("software", host(files)).reason ?? "", /no software Vulkan driver \(lavapipe: mesa-vulkan-drivers from bookworm-backports/);
    assert.match(candidateDrivers("software", host({ "/usr/share/vulkan/icd.d/lvp_icd.json": icd("libvulkan_lvp.so") })).reason ?? "", /no Vulkan loader \(libvulkan\.so\.1; Debian: apt-get install libvulkan1\)/);
    assert.equal(findVulkanLoader(host({ "/opt/vk/libvulkan.so.1": "" }, { LD_LIBRARY_PATH: "/opt/vk" })), "/opt/vk/libvulkan.so.1");
  });

  it("pinVulkanDrivers sets VK_DRIVER_FILES unless the operator chose drivers", () => {
    const drivers = listVulkanDrivers(host({ "/usr/share/vulkan/icd.d/lvp_icd.json": icd("libvulkan_lvp.so") }));
    const env: NodeJS.ProcessEnv = {};
    pinVulkanDrivers(drivers, env);
    assert.equal(env.VK_DRIVER_FILES, "/usr/share/vulkan/icd.d/lvp_icd.json");
    const mine: NodeJS.ProcessEnv = { VK_ICD_FILENAMES: "/x.json" };
    pinVulkanDrivers(drivers, mine);
    assert.equal(mine.VK_DRIVER_FILES, undefined);
  });

  it("the real probe never throws; a driver whose library is missing fails with onnxruntime's adapter error, run in a child process", async () => {
    const result = await probeWebGpu("hardware");
    if (!result.ok) assert.ok(result.detail.length > 0);
    const dir = mkdtempSync(join(tmpdir(), "parm-icd-"));
    try {
      writeFileSync(join(dir, "sw.json"), icd("/nonexistent/libvk_swiftshader.so"));
      const bogus = await probeWebGpu("software", { env: { ...process.env, VK_DRIVER_FILES: join(dir, "sw.json") } });
      assert.equal(bogus.ok, false);
      assert.match(bogus.detail, findVulkanLoader() ? /Failed to get a WebGPU adapter/ : /no Vulkan loader/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("deviceSettingsFromEnv", () => {
  it("reads PARM_EXECUTION_PROVIDER (default auto) and PARM_WEBGPU_ALLOW_SOFTWARE (default off), naming a bad field", () => {
    assert.deepEqual(deviceSettingsFromEnv({}), { preference: "auto", allowSoftwareAdapter: false });
    assert.deepEqual(deviceSettingsFromEnv({ PARM_EXECUTION_PROVIDER: "webgpu", PARM_WEBGPU_ALLOW_SOFTWARE: "true" }), { preference: "webgpu", allowSoftwareAdapter: true });
    assert.throws(() => deviceSettingsFromEnv({ PARM_EXECUTION_PROVIDER: "gpu" }), (e: unknown) => e instanceof DeviceSettingsError && e.field === "PARM_EXECUTION_PROVIDER" && /auto, cpu, webgpu, cuda/.test(e.message));
    assert.throws(() => deviceSettingsFromEnv({ PARM_WEBGPU_ALLOW_SOFTWARE: "on" }), (e: unknown) => e instanceof DeviceSettingsError && e.field === "PARM_WEBGPU_ALLOW_SOFTWARE");
  });
});
