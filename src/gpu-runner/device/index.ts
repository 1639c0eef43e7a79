/** @module gpu-runner/device — execution provider choice (CUDA, WebGPU over Vulkan, CPU), adapter and thread count. */
export { detectDevice, DeviceUnavailableError, type DeviceChoice, type DetectDeviceOptions, type ExecutionProvider } from "./detect.ts";
export { CUDA_PROVIDER_LIBRARIES, NVIDIA_DEVICE_NODES, missingCudaPrerequisite, onnxruntimeBindingDir, type CudaPrerequisiteOptions } from "./cuda-prerequisites.ts";
export { DEVICE_PREFERENCES, DeviceSettingsError, deviceSettingsFromEnv, parseDevicePreference, type DevicePreference, type DeviceSettings } from "./settings.ts";
export {
  candidateDrivers,
  findVulkanLoader,
  hardwareDeviceVisible,
  listVulkanDrivers,
  pinVulkanDrivers,
  probeWebGpu,
  type AdapterClass,
  type ProbeWebGpuOptions,
  type VulkanDriver,
  type VulkanHostOptions,
  type WebGpuProbeResult,
} from "./webgpu.ts";
export { nodePlacement, parseNodePlacement, type NodePlacement } from "./placement.ts";
export { resolveExecutionProvider, type ResolveProviderOptions } from "./resolve.ts";
