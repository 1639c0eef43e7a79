/**
 * @module gpu-runner/device/webgpu — whether onnxruntime's WebGPU execution provider (Dawn over Vulkan, bundled in
 * onnxruntime-node's linux/x64 library) can run on this host, and on which Vulkan adapter.
 *
 * The Vulkan loader (`libvulkan.so.1`, Debian `libvulkan1`) finds drivers through ICD manifests (JSON files in the
 * loader's search folders, or the list in `VK_DRIVER_FILES` / `VK_ICD_FILENAMES`). A manifest whose library is
 * Mesa's lavapipe (`libvulkan_lvp.so`) or SwiftShader is a *software* adapter (it computes on the CPU); every other
 * one is *hardware* — usable only when its device nodes exist (`/dev/nvidia*` for NVIDIA's driver, `/dev/dri/renderD*`
 * for Mesa's). onnxruntime has no API naming the adapter Dawn picked, so the probe restricts the loader to one class
 * of manifests (`VK_DRIVER_FILES`) and the chosen class is then pinned in this process's environment before the
 * first WebGPU session (`pinVulkanDrivers`): Dawn's device is process-wide, so every later session uses it.
 *
 * The probe runs in a child process: Dawn writes its warnings straight to stderr and a failed adapter request may
 * leave its context half made, neither of which the runner should inherit. It creates a two-node session
 * (Mul, Add) on `webgpu` and checks the numbers.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { basename, join } from "node:path";
import { onnx } from "../engine/index.ts";

export type AdapterClass = "hardware" | "software";

/** One Vulkan driver manifest. */
export interface VulkanDriver {
  readonly manifest: string;
  /** The driver library the manifest names (`ICD.library_path`). */
  readonly library: string;
  readonly adapterClass: AdapterClass;
  /** Human-readable adapter name (refined later for NVIDIA through nvidia-smi). */
  readonly name: string;
}

/** What a probe found: the drivers it allowed and, when it worked, the adapter's name. */
export interface WebGpuProbeResult {
  readonly ok: boolean;
  readonly adapterClass: AdapterClass;
  readonly drivers: readonly VulkanDriver[];
  /** Adapter name when ok; why not otherwise. */
  readonly detail: string;
}

export interface VulkanHostOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly exists?: (path: string) => boolean;
  readonly listDir?: (dir: string) => string[];
  readonly readText?: (path: string) => string;
}

const SOFTWARE_LIBRARY = /(^|\/)(libvulkan_lvp|libvk_swiftshader)\.so/;
const VULKAN_LOADER_PATHS = [
  "/usr/lib/x86_64-linux-gnu/libvulkan.so.1",
  "/lib/x86_64-linux-gnu/libvulkan.so.1",
  "/usr/lib/aarch64-linux-gnu/libvulkan.so.1",
  "/usr/lib64/libvulkan.so.1",
  "/usr/lib/libvulkan.so.1",
  "/usr/local/lib/libvulkan.so.1",
];

function hostIo(options: VulkanHostOptions) {
  return {
    env: options.env ?? process.env,
    exists: options.exists ?? existsSync,
    listDir:
      options.listDir ??
      ((dir: string) => {
        try {
          return readdirSync(dir);
        } catch {
          return [];
        }
      }),
    readText: options.readText ?? ((path: string) => readFileSync(path, "utf8")),
  };
}

/** The Vulkan loader library, or null (also looked up in LD_LIBRARY_PATH). */
export function findVulkanLoader(options: VulkanHostOptions = {}): string | null {
  const io = hostIo(options);
  const extra = (io.env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean).map((d) => join(d, "libvulkan.so.1"));
  return [...extra, ...VULKAN_LOADER_PATHS].find((p) => io.exists(p)) ?? null;
}

/** The loader's manifest folders (Vulkan loader documentation, "Driver Discovery on Linux"), in its order. */
function manifestDirs(env: NodeJS.ProcessEnv): string[] {
  const home = env.HOME ?? homedir();
  const configHome = env.XDG_CONFIG_HOME || join(home, ".config");
  const dataHome = env.XDG_DATA_HOME || join(home, ".local/share");
  const configDirs = (env.XDG_CONFIG_DIRS || "/etc/xdg").split(":");
  const dataDirs = (env.XDG_DATA_DIRS || "/usr/local/share:/usr/share").split(":");
  return [join(configHome, "vulkan/icd.d"), ...configDirs.map((d) => join(d, "vulkan/icd.d")), "/etc/vulkan/icd.d", join(dataHome, "vulkan/icd.d"), ...dataDirs.map((d) => join(d, "vulkan/icd.d"))];
}

function driverName(library: string, adapterClass: AdapterClass, manifest: string): string {
  const lib = basename(library);
  if (/lvp/.test(lib)) return "llvmpipe (Mesa lavapipe)";
  if (/swiftshader/.test(lib)) return "SwiftShader (software Vulkan)";
  if (/nvidia/i.test(lib)) return "NVIDIA";
  const m = /^libvulkan_(\w+)\.so/.exec(lib);
  return m ? `Mesa ${m[1]}${adapterClass === "software" ? " (software)" : ""}` : basename(manifest, ".json");
}

/** Driver manifests the Vulkan loader would use: `VK_DRIVER_FILES` / `VK_ICD_FILENAMES` when set, else its folders. */
export function listVulkanDrivers(options: VulkanHostOptions = {}): VulkanDriver[] {
  const io = hostIo(options);
  const pinned = io.env.VK_DRIVER_FILES || io.env.VK_ICD_FILENAMES;
  const manifests = pinned
    ? pinned.split(":").filter(Boolean)
    : [...new Set(manifestDirs(io.env))].flatMap((dir) =>
        io
          .listDir(dir)
          .filter((f) => f.endsWith(".json"))
          .sort()
          .map((f) => join(dir, f)),
      );
  const drivers: VulkanDriver[] = [];
  for (const manifest of manifests) {
    let library: unknown;
    try {
      library = (JSON.parse(io.readText(manifest)) as { ICD?: { library_path?: unknown } }).ICD?.library_path;
    } catch {
      continue;
    }
    if (typeof library !== "string" || library === "") continue;
    const adapterClass: AdapterClass = SOFTWARE_LIBRARY.test(library) ? "software" : "hardware";
    drivers.push({ manifest, library, adapterClass, name: driverName(library, adapterClass, manifest) });
  }
  return drivers;
}

/** Whether a hardware driver has a device to drive: NVIDIA's device nodes, or a DRM render node for the others. */
export function hardwareDeviceVisible(driver: VulkanDriver, options: VulkanHostOptions = {}): boolean {
  const io = hostIo(options);
  if (/nvidia/i.test(driver.library)) return io.exists("/dev/nvidiactl") || io.exists("/dev/nvidia0");
  return io.listDir("/dev/dri").some((f) => f.startsWith("renderD"));
}

/** The drivers of one class a probe may try, or the reason there are none. */
export function candidateDrivers(adapterClass: AdapterClass, options: VulkanHostOptions = {}): { drivers: VulkanDriver[]; reason: string | null } {
  if (findVulkanLoader(options) === null) return { drivers: [], reason: "no Vulkan loader (libvulkan.so.1; Debian: apt-get install libvulkan1)" };
  const all = listVulkanDrivers(options).filter((d) => d.adapterClass === adapterClass);
  if (all.length === 0) {
    return {
      drivers: [],
      reason:
        adapterClass === "software"
          ? "no software Vulkan driver (lavapipe: mesa-vulkan-drivers from bookworm-backports, docs/operations.md)"
          : "no hardware Vulkan driver (an NVIDIA driver ships its own; Mesa's need /dev/dri)",
    };
  }
  if (adapterClass === "software") return { drivers: all, reason: null };
  const visible = all.filter((d) => hardwareDeviceVisible(d, options));
  return visible.length > 0 ? { drivers: visible, reason: null } : { drivers: [], reason: `no GPU device node for the Vulkan drivers ${all.map((d) => basename(d.library)).join(", ")}` };
}

/** The probe model: y = x·x + x on [4] floats. */
function probeModelBase64(): string {
  const g = new onnx.GraphBuilder("webgpu-probe");
  const x = g.input("x", "float32", [4]);
  g.output(g.add(g.mul(x, x), x), "y");
  return Buffer.from(g.serialize().modelBytes).toString("base64");
}

const PROBE_SCRIPT = `
const ort = require(process.env.PARM_PROBE_ORT);
(async () => {
  const session = await ort.InferenceSession.create(Buffer.from(process.env.PARM_PROBE_MODEL, "base64"), { executionProviders: ["webgpu"] });
  const out = await session.run({ x: new ort.Tensor("float32", Float32Array.of(1, -2, 3, 0.5), [4]) });
  process.stdout.write(JSON.stringify(Array.from(out.y.data)));
})().catch((e) => { process.stdout.write(JSON.stringify({ error: String(e && e.message || e) })); process.exitCode = 3; });
`;
const PROBE_EXPECTED = [2, 2, 12, 0.75];

/** The informative line of a failed probe: onnxruntime's message without its source location. */
function probeFailure(stdout: string, stderr: string, error: Error | null): string {
  try {
    const parsed = JSON.parse(stdout) as { error?: string };
    if (parsed.error) {
      const m = /(Failed to get a WebGPU adapter[^\n]*|[^\n]*was false\.[^\n]*)/.exec(parsed.error);
      return (m ? m[1] : parsed.error).replace(/^.*was false\.\s*/, "").slice(0, 300);
    }
  } catch {
    /* not JSON: the child died */
  }
  const tail = stderr.trim().split("\n").filter(Boolean).slice(-1)[0] ?? "";
  return `probe process failed (${error?.message.split("\n")[0] ?? "no output"})${tail ? `: ${tail.slice(0, 200)}` : ""}`;
}

export interface ProbeWebGpuOptions extends VulkanHostOptions {
  readonly timeoutMs?: number;
}

/** Creates a WebGPU session in a child process restricted to the `adapterClass` drivers; never throws. */
export async function probeWebGpu(adapterClass: AdapterClass, options: ProbeWebGpuOptions = {}): Promise<WebGpuProbeResult> {
  const { drivers, reason } = candidateDrivers(adapterClass, options);
  if (reason !== null) return { ok: false, adapterClass, drivers, detail: reason };
  const env = {
    ...(options.env ?? process.env),
    VK_DRIVER_FILES: drivers.map((d) => d.manifest).join(":"),
    VK_ICD_FILENAMES: undefined,
    PARM_PROBE_ORT: createRequire(import.meta.url).resolve("onnxruntime-node"),
    PARM_PROBE_MODEL: probeModelBase64(),
  };
  const result = await new Promise<{ error: Error | null; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, ["-e", PROBE_SCRIPT], { env, timeout: options.timeoutMs ?? 60_000, encoding: "utf8" }, (error, stdout, stderr) => resolve({ error, stdout, stderr })),
  );
  let values: unknown;
  try {
    values = JSON.parse(result.stdout);
  } catch {
    values = null;
  }
  if (result.error === null && Array.isArray(values) && values.length === 4 && values.every((v, i) => Math.abs(Number(v) - PROBE_EXPECTED[i]) < 1e-6)) {
    return { ok: true, adapterClass, drivers, detail: drivers.map((d) => d.name).join(" / ") };
  }
  if (result.error === null && Array.isArray(values)) return { ok: false, adapterClass, drivers, detail: `WebGPU probe computed ${JSON.stringify(values)}, expected ${JSON.stringify(PROBE_EXPECTED)}` };
  return { ok: false, adapterClass, drivers, detail: probeFailure(result.stdout, result.stderr, result.error) };
}

/** Restricts this process's Vulkan loader to `drivers` unless the operator already chose (VK_DRIVER_FILES or
 *  VK_ICD_FILENAMES set). Must run before the process's first WebGPU session. */
export function pinVulkanDrivers(drivers: readonly VulkanDriver[], env: NodeJS.ProcessEnv = process.env): void {
  if (env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES) return;
  env.VK_DRIVER_FILES = drivers.map((d) => d.manifest).join(":");
}
