/** @module gpu-runner/device — execution provider choice (CUDA when it loads, else CPU) and thread count. */
export { detectDevice, DeviceUnavailableError, type DeviceChoice, type DetectDeviceOptions, type DevicePreference } from "./detect.ts";
