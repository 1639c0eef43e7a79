/**
 * @module bench/execution-provider — the provider a bench runs on: `PARM_EXECUTION_PROVIDER` (auto | cpu | webgpu |
 * cuda, default auto) and `PARM_WEBGPU_ALLOW_SOFTWARE`, decided like a runner's (gpu-runner/device); the device line
 * goes to stderr so a bench's report names what it measured.
 */
import { resolveExecutionProvider, type ExecutionProvider } from "../src/gpu-runner/device/index.ts";

export function benchExecutionProvider(): Promise<ExecutionProvider> {
  return resolveExecutionProvider({ log: (line) => process.stderr.write(`${line}\n`) });
}
