/**
 * @module contracts/events — events a runner publishes on `events.job.<jobId>` (JetStream stream EVENTS).
 * The api ingests them idempotently by stream sequence; subscribers replay them from any sequence.
 */
import { z } from "zod";
import { ContractValidationError } from "./errors.ts";

const NonNegativeInt = z.number().int().min(0);
const Finite = z.number().refine(Number.isFinite, "must be finite");

/** A runner picked the job up (attempt = JetStream delivery count). */
export const JobStartedEventSchema = z.object({
  type: z.literal("started"),
  runnerId: z.string().min(1),
  attempt: z.number().int().min(1),
  /** Execution provider actually used: "cpu", "cuda", … */
  device: z.string().min(1),
  /** Optimizer step resumed from a checkpoint (0 = fresh start). */
  resumedFromStep: NonNegativeInt,
});

/** Periodic progress of a long job (training, evaluation sweep). */
export const JobProgressEventSchema = z.object({
  type: z.literal("progress"),
  step: NonNegativeInt,
  totalSteps: NonNegativeInt,
  /** 0–100. */
  percent: z.number().min(0).max(100),
  /** Estimated seconds left; null while unknown. */
  etaSeconds: z.number().min(0).nullable(),
  /** ARM loss per objective in α (dimension) order; empty for jobs without a loss. */
  lossPerObjective: z.array(Finite),
  /** Tokens processed per second over the last interval. */
  tokensPerSecond: z.number().min(0),
  /** Optional extras (learning rate, grad norm, validation loss …) under stable names. */
  metrics: z.record(z.string(), Finite).optional(),
});

/** One generated token of output `outputIndex` (the index of its α in the request). */
export const JobTokenEventSchema = z.object({
  type: z.literal("token"),
  outputIndex: NonNegativeInt,
  /** Position of the token in the output (0-based). */
  position: NonNegativeInt,
  tokenId: NonNegativeInt,
  /** Decoded text of this token (may be empty for partial UTF-8 sequences). */
  text: z.string(),
});

/** One evaluated point of a Pareto sweep: mean evaluator reward per dimension at preference α. */
export const JobPointEventSchema = z.object({
  type: z.literal("point"),
  index: NonNegativeInt,
  alpha: z.array(z.number().min(0)),
  rewards: z.array(Finite),
  promptCount: NonNegativeInt,
});

export const ARTIFACT_KINDS = ["adapter", "checkpoint", "evaluator", "report"] as const;
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];

/** A file stored in object store bucket `artifacts`. */
export const JobArtifactEventSchema = z.object({
  type: z.literal("artifact"),
  kind: z.enum(ARTIFACT_KINDS),
  /** Object name in bucket `artifacts`. */
  key: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  sizeBytes: NonNegativeInt,
  /** Optimizer step the artifact belongs to (checkpoints). */
  step: NonNegativeInt.optional(),
});

export const GenerationOutputSchema = z.object({
  alpha: z.array(z.number().min(0)),
  text: z.string(),
  tokenCount: NonNegativeInt,
  finishReason: z.enum(["stop", "length"]),
});
export type GenerationOutput = z.infer<typeof GenerationOutputSchema>;

/** A file a job stored in bucket `artifacts` (also announced by an artifact event). */
export const StoredArtifactRefSchema = z.object({
  key: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  sizeBytes: NonNegativeInt,
});
export type StoredArtifactRef = z.infer<typeof StoredArtifactRefSchema>;

/** The job finished. Kind-specific results sit in the optional fields. */
export const JobCompletedEventSchema = z.object({
  type: z.literal("completed"),
  durationSeconds: z.number().min(0),
  /** Final scalar metrics (e.g. final loss per objective as `loss.<dimensionName>`, tokensPerSecond). */
  metrics: z.record(z.string(), Finite),
  /** generate: one output per α. */
  outputs: z.array(GenerationOutputSchema).optional(),
  /** evaluate: front indices (into the point events), hypervolume with its reference point, MIP, and the stored
   *  report (`evaluations/<tenant>/<jobId>/report.json`, the engine's Pareto report) and plot (`…/plot.svg`);
   *  runners before these fields existed store neither. */
  evaluation: z
    .object({
      hypervolume: Finite,
      referencePoint: z.array(Finite),
      mip: Finite,
      frontIndices: z.array(NonNegativeInt),
      reportFile: StoredArtifactRefSchema.optional(),
      plotFile: StoredArtifactRefSchema.optional(),
    })
    .optional(),
  /** train / train-evaluator: the object key of the final artifact (also announced by an artifact event). */
  artifactKey: z.string().min(1).optional(),
});

/** Why a job failed, as a stable code; `reason` is a sentence the user can act on. */
export const JOB_FAILURE_CODES = [
  "INVALID_PAYLOAD",
  "MODEL_UNAVAILABLE",
  "DATASET_UNAVAILABLE",
  "VOCABULARY_MISMATCH",
  "OUT_OF_MEMORY",
  "NUMERICAL_DIVERGENCE",
  "CANCELLED",
  "MAX_DELIVERIES_EXCEEDED",
  "INTERNAL",
] as const;
export type JobFailureCode = (typeof JOB_FAILURE_CODES)[number];

export const JobFailedEventSchema = z.object({
  type: z.literal("failed"),
  code: z.enum(JOB_FAILURE_CODES),
  /** What went wrong and what to change, e.g. "maxLength 4096 exceeds the model context (2048); lower it". */
  reason: z.string().min(1),
  /** Whether retrying the same job unchanged may succeed. */
  retryable: z.boolean(),
});

export const JobEventSchema = z.discriminatedUnion("type", [
  JobStartedEventSchema,
  JobProgressEventSchema,
  JobTokenEventSchema,
  JobPointEventSchema,
  JobArtifactEventSchema,
  JobCompletedEventSchema,
  JobFailedEventSchema,
]);
export type JobEvent = z.infer<typeof JobEventSchema>;
export type JobEventType = JobEvent["type"];
export type JobEventOf<T extends JobEventType> = Extract<JobEvent, { type: T }>;
export const JOB_EVENT_TYPES = ["started", "progress", "token", "point", "artifact", "completed", "failed"] as const satisfies readonly JobEventType[];

/** Validates an unknown value as a job event; throws {@link ContractValidationError} naming each bad field. */
export function parseJobEvent(value: unknown): JobEvent {
  const result = JobEventSchema.safeParse(value);
  if (!result.success) throw ContractValidationError.fromZod("JobEvent", result.error);
  return result.data;
}
