/** @module gpu-runner/runner — the runner process core: configuration, NATS names, failures, the pull/run loop. */
export { startRunner, RUNNER_VERSION, type Runner, type RunnerOptions, type RunningJobInfo } from "./runner.ts";
export { loadRunnerConfig, defaultRunnerId, RunnerConfigError, type RunnerConfig } from "./config.ts";
export { runnerNatsNames, JOB_CANCELS_KV_BUCKET, type RunnerNatsNames } from "./nats-names.ts";
export { classifyFailure, type ClassifiedFailure } from "./failures.ts";
export { Semaphore } from "./semaphore.ts";
