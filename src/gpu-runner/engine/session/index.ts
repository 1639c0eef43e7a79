/**
 * @module engine/session
 * Public surface: onnxruntime-node sessions for engine-built models.
 */
export {
  createEngineSession,
  DeviceTensor,
  EngineSession,
  expectTensor,
  SessionCreateError,
  SessionRunError,
  type EngineSessionOptions,
  type ExecutionProviderChoice,
  type ExecutionProviderName,
  type GraphOptimizationLevel,
  type HostTensor,
  type SessionLogger,
} from "./session.ts";
export { checkGradients, type GradientCheck, type GradientCheckOptions, type GradientCheckResult } from "./gradient-check.ts";
