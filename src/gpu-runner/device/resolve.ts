/**
 * @module gpu-runner/device/resolve — the execution provider for one-shot tools (the `parm` CLI, the benches):
 * an explicit choice (a command-line flag) or `PARM_EXECUTION_PROVIDER` / `PARM_WEBGPU_ALLOW_SOFTWARE`
 * (settings.ts), decided by detectDevice like a runner's, with its one line written to `log`.
 */
import { detectDevice, type ExecutionProvider } from "./detect.ts";
import { deviceSettingsFromEnv, parseDevicePreference } from "./settings.ts";

export interface ResolveProviderOptions {
  /** A flag's value (e.g. `--execution-provider`), checked under `field`; undefined: the environment's setting. */
  readonly explicit?: string;
  readonly field?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly threads?: number;
  readonly log: (line: string) => void;
}

export async function resolveExecutionProvider(options: ResolveProviderOptions): Promise<ExecutionProvider> {
  const settings = deviceSettingsFromEnv(options.env ?? process.env);
  const preference = options.explicit === undefined ? settings.preference : parseDevicePreference(options.explicit, options.field ?? "--execution-provider");
  const choice = await detectDevice({
    preference,
    allowSoftwareAdapter: settings.allowSoftwareAdapter,
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    log: { info: options.log, warn: options.log },
  });
  return choice.provider;
}
