/** @module gpu-runner/device — execution provider choice (CUDA when it loads, else CPU) and thread count. */
export { detectDevice, DeviceUnavailableError, type DeviceChoice, type DetectDeviceOptions, type DevicePreference } from "./detect.ts";
export { CUDA_PROVIDER_LIBRARIES, NVIDIA_DEVICE_NODES, missingCudaPrerequisite, onnxruntimeBindingDir, type CudaPrerequisiteOptions } from "./cuda-prerequisites.ts";
