/**
 * @module contracts/runners — the heartbeat a runner writes to KV bucket `runners` (key = runner id) every
 * TTL/3; the bucket's `max_age` expires silent runners (nats-server 2.9 has no per-key TTL).
 */
import { z } from "zod";
import { ContractValidationError } from "./errors.ts";
import { JobKindSchema, SubjectTokenSchema } from "./jobs.ts";

/** Default heartbeat TTL (bucket max_age); runners write every third of it. */
export const RUNNER_HEARTBEAT_TTL_MS = 30_000;

export const RunnerHeartbeatSchema = z.object({
  /** Also the KV key: letters, digits, "-", "_". */
  runnerId: SubjectTokenSchema,
  version: z.string().min(1),
  hostname: z.string().min(1),
  /** Execution provider in use: "cpu", "cuda", "webgpu", … */
  device: z.string().min(1),
  kinds: z.array(JobKindSchema).min(1),
  totalSlots: z.number().int().min(1),
  freeSlots: z.number().int().min(0),
  /** Ids of models loaded in memory (warm). */
  loadedModels: z.array(z.string()),
  /** Jobs currently running on this runner. */
  runningJobIds: z.array(z.string()),
  /** ISO-8601 time of this heartbeat. */
  at: z.iso.datetime({ offset: true }),
});
export type RunnerHeartbeat = z.infer<typeof RunnerHeartbeatSchema>;

export function parseRunnerHeartbeat(value: unknown): RunnerHeartbeat {
  const result = RunnerHeartbeatSchema.safeParse(value);
  if (!result.success) throw ContractValidationError.fromZod("RunnerHeartbeat", result.error);
  return result.data;
}
