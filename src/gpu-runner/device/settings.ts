/**
 * @module gpu-runner/device/settings — the execution-provider settings runners, the CLI and the benches read from
 * the environment (docs/runners.md): `PARM_EXECUTION_PROVIDER` (auto | cpu | webgpu | cuda, default auto) and
 * `PARM_WEBGPU_ALLOW_SOFTWARE` (1/true: "auto" may use a software Vulkan adapter such as lavapipe; default off).
 */
export const DEVICE_PREFERENCES = ["auto", "cpu", "webgpu", "cuda"] as const;
export type DevicePreference = (typeof DEVICE_PREFERENCES)[number];

export interface DeviceSettings {
  readonly preference: DevicePreference;
  readonly allowSoftwareAdapter: boolean;
}

export class DeviceSettingsError extends Error {
  override readonly name = "DeviceSettingsError";
  readonly code = "DEVICE_SETTINGS_INVALID" as const;
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Checks a preference given on a command line or in a variable named `field`. */
export function parseDevicePreference(value: string, field: string): DevicePreference {
  if (!(DEVICE_PREFERENCES as readonly string[]).includes(value)) {
    throw new DeviceSettingsError(field, `${field} must be one of ${DEVICE_PREFERENCES.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return value as DevicePreference;
}

export function deviceSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): DeviceSettings {
  const preference = parseDevicePreference(env.PARM_EXECUTION_PROVIDER || "auto", "PARM_EXECUTION_PROVIDER");
  const raw = (env.PARM_WEBGPU_ALLOW_SOFTWARE ?? "").trim().toLowerCase();
  if (!["", "0", "1", "true", "false"].includes(raw)) {
    throw new DeviceSettingsError("PARM_WEBGPU_ALLOW_SOFTWARE", `PARM_WEBGPU_ALLOW_SOFTWARE must be 1, true, 0 or false, got ${JSON.stringify(env.PARM_WEBGPU_ALLOW_SOFTWARE)}`);
  }
  return { preference, allowSoftwareAdapter: raw === "1" || raw === "true" };
}
