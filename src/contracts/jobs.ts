/**
 * @module contracts/jobs — job kinds and statuses, the payload of each job kind (zod schemas + types), the
 * envelope published on JetStream, and the NATS names (subjects, streams, consumers, buckets) api and runner share.
 */
import { z } from "zod";
import { ContractValidationError, InvalidSubjectTokenError, UnreachableCaseError } from "./errors.ts";
import { validatePreferenceVector } from "./preference.ts";
import { DatasetFormatSchema, DatasetSplitSchema, SplitRatiosSchema } from "./datasets/types.ts";
import { PromptTemplateSchema } from "./prompt-template.ts";
import { ALPHA_CADENCES, PAIR_TRUNCATIONS, LORA_DROPOUT_MAX_EXCLUSIVE } from "./training-recipe.ts";

export const JOB_KINDS = ["train", "train-evaluator", "generate", "evaluate"] as const;
export type JobKind = (typeof JOB_KINDS)[number];
export const JobKindSchema = z.enum(JOB_KINDS);

export const JOB_STATUSES = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const JobStatusSchema = z.enum(JOB_STATUSES);
/** Statuses a job never leaves. */
export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = ["SUCCEEDED", "FAILED", "CANCELLED"];

/** Prisma `JobKind` enum names (upper snake case) for each contract kind. */
export const JOB_KIND_DB_NAMES = {
  train: "TRAIN",
  "train-evaluator": "TRAIN_EVALUATOR",
  generate: "GENERATE",
  evaluate: "EVALUATE",
} as const satisfies Record<JobKind, string>;
export type JobKindDbName = (typeof JOB_KIND_DB_NAMES)[JobKind];

export function jobKindFromDbName(name: JobKindDbName): JobKind {
  switch (name) {
    case "TRAIN":
      return "train";
    case "TRAIN_EVALUATOR":
      return "train-evaluator";
    case "GENERATE":
      return "generate";
    case "EVALUATE":
      return "evaluate";
    default:
      throw new UnreachableCaseError(name);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Shared pieces

/** An id usable as one NATS subject token: letters, digits, "-" and "_" (UUIDs qualify). */
export const SubjectTokenSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_-]+$/, 'must contain only letters, digits, "-" and "_"');

const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits");
const IdSchema = z.string().min(1).max(128);
const PositiveInt = z.number().int().positive();
const NonNegativeInt = z.number().int().min(0);

export const MODEL_FORMATS = ["GGUF", "SAFETENSORS", "ONNX"] as const;
export type ModelFormat = (typeof MODEL_FORMATS)[number];

/**
 * A model file a runner can open. `location` is an object-store key in bucket `artifacts` written as
 * `obj://artifacts/<key>`, or an absolute path / `file://` URL on the runner's host. `sha256` (of the file, or
 * of the folder's manifest) is checked after download when present.
 */
export const ModelRefSchema = z.object({
  id: IdSchema,
  location: z.string().min(1),
  format: z.enum(MODEL_FORMATS),
  sha256: Sha256Schema.nullable(),
});
export type ModelRef = z.infer<typeof ModelRefSchema>;

export const ADAPTER_METHODS = ["PARM", "GENARM"] as const;
export type AdapterMethod = (typeof ADAPTER_METHODS)[number];

/** A preference dimension as the runner needs it; arrays of these are in α order (dimension position). */
export const DimensionRefSchema = z.object({
  id: IdSchema,
  name: z.string().min(1),
  /** β_r of the ARM loss for this objective (> 0). */
  betaR: z.number().positive(),
});
export type DimensionRef = z.infer<typeof DimensionRefSchema>;

/**
 * A validated dataset as stored for runners: `snapshot.location` holds JSON Lines of `PreferenceRecord`
 * (`encoding: "records-jsonl"`, split already assigned). `dimensionMap` sends the format's label names
 * ("preferred", or "better"/"safer") to dimension ids.
 */
export const DatasetRefSchema = z.object({
  datasetId: IdSchema,
  format: DatasetFormatSchema,
  snapshot: z.object({
    location: z.string().min(1),
    encoding: z.literal("records-jsonl"),
    sha256: Sha256Schema.nullable(),
    recordCount: NonNegativeInt,
  }),
  splitRatios: SplitRatiosSchema,
  dimensionMap: z.record(z.string().min(1), IdSchema),
});
export type DatasetRef = z.infer<typeof DatasetRefSchema>;

/** A trained ARM adapter (PARM: one PBLoRA over all dimensions; GenARM: one LoRA per dimension). */
export const AdapterRefSchema = z.object({
  id: IdSchema,
  method: z.enum(ADAPTER_METHODS),
  location: z.string().min(1),
  sha256: Sha256Schema.nullable(),
  /** The backbone the adapter was trained on (the ARM's base weights). */
  armBase: ModelRefSchema,
  dimensions: z.array(DimensionRefSchema).min(1),
});
export type AdapterRef = z.infer<typeof AdapterRefSchema>;

export const SamplingSchema = z.object({
  /** 0 = greedy. */
  temperature: z.number().min(0).max(10),
  /** 0 = no top-k cut. */
  topK: NonNegativeInt,
  /** 1 = no nucleus cut. */
  topP: z.number().gt(0).max(1),
  /** null = unseeded. */
  seed: z.number().int().min(0).max(2 ** 32 - 1).nullable(),
  stop: z.array(z.string().min(1)).max(16),
});
export type Sampling = z.infer<typeof SamplingSchema>;

function addAlphaIssues(alphas: readonly (readonly number[])[], dimensionCount: number, ctx: z.RefinementCtx, at: string): void {
  alphas.forEach((alpha, i) => {
    const problem = validatePreferenceVector(alpha, dimensionCount);
    if (problem) ctx.addIssue({ code: "custom", path: [at, i], message: `${problem.code}: ${problem.message}` });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Payloads

/**
 * The projection names an adapter may target, each with the engine's short name (LLaMA-family blocks have all
 * seven). Anything else is refused at submit.
 */
export const ADAPTER_TARGET_NAMES: Readonly<Record<string, "q" | "k" | "v" | "o" | "gate" | "up" | "down">> = {
  q: "q", q_proj: "q", k: "k", k_proj: "k", v: "v", v_proj: "v", o: "o", o_proj: "o",
  gate: "gate", gate_proj: "gate", up: "up", up_proj: "up", down: "down", down_proj: "down",
};

/** Train an ARM (PARM: one PBLoRA adapter; GenARM: one LoRA per dimension) on preference pairs. */
export const TrainJobPayloadSchema = z
  .object({
    method: z.enum(ADAPTER_METHODS),
    adapterName: z.string().min(1),
    baseModel: ModelRefSchema,
    dimensions: z.array(DimensionRefSchema).min(1).max(16),
    datasets: z.array(DatasetRefSchema).min(1),
    /** PBLoRA ranks: r1 of the shared block W1, r2 of the preference-aware blocks W2_i (GenARM: r1 is the LoRA
     *  rank, r2 unused). */
    r1: PositiveInt,
    r2: PositiveInt,
    loraAlpha: z.number().positive(),
    /** Adapter-input dropout while training (PEFT lora_dropout), 0 ≤ p < 1. Absent (payloads from before it
     *  existed) = 0; the api always sets it (default: training-recipe.ts). */
    loraDropout: z.number().min(0).lt(LORA_DROPOUT_MAX_EXCLUSIVE).default(0),
    /** Projection names to adapt, e.g. ["q_proj", "v_proj"] (keys of ADAPTER_TARGET_NAMES). */
    targets: z
      .array(z.string().refine((t) => Object.hasOwn(ADAPTER_TARGET_NAMES, t), { message: `unknown adapter target; use one of ${Object.keys(ADAPTER_TARGET_NAMES).join(", ")}` }))
      .min(1),
    lr: z.number().positive(),
    epochs: PositiveInt,
    batchSize: PositiveInt,
    gradAccum: PositiveInt,
    warmupSteps: NonNegativeInt,
    weightDecay: z.number().min(0),
    /** Dirichlet concentration p for sampling α during training. */
    dirichletP: z.number().positive(),
    /** When PARM draws α (training-recipe.ts). Absent (payloads from before it existed) = MICRO_BATCH. */
    alphaPer: z.enum(ALPHA_CADENCES).default("MICRO_BATCH"),
    /** Pair tokenization and truncation rule (training-recipe.ts). Absent (payloads from before it existed) = PREFIX_SHARED. */
    truncation: z.enum(PAIR_TRUNCATIONS).default("PREFIX_SHARED"),
    seed: z.number().int().min(0).max(2 ** 32 - 1),
    maxPromptLength: PositiveInt,
    maxLength: PositiveInt,
    /** Save a checkpoint every N optimizer steps (0 = only at the end). */
    checkpointEvery: NonNegativeInt,
    /** Use at most this many training pairs per dataset (the first in snapshot order); null = all. */
    maxPairs: PositiveInt.nullable().default(null),
    /** Stop after this many optimizer updates in all (the schedule spans them); null = epochs decide. */
    maxSteps: PositiveInt.nullable().default(null),
    /** The base model's prompt template (prompt-template.ts), applied to the prompts of datasets whose format
     *  carries bare prompts (PKU_SAFERLHF, GENERIC); HH_RLHF prompts stay as they are. null (payloads from before
     *  templates existed) = every prompt as it is. */
    promptTemplate: PromptTemplateSchema.nullable().default(null),
  })
  .superRefine((p, ctx) => {
    if (p.maxPromptLength >= p.maxLength) {
      ctx.addIssue({ code: "custom", path: ["maxPromptLength"], message: "must be smaller than maxLength" });
    }
    const ids = new Set(p.dimensions.map((d) => d.id));
    if (ids.size !== p.dimensions.length) {
      ctx.addIssue({ code: "custom", path: ["dimensions"], message: "dimension ids must be unique" });
    }
    const covered = new Set<string>();
    p.datasets.forEach((d, i) => {
      for (const [label, dimensionId] of Object.entries(d.dimensionMap)) {
        if (!ids.has(dimensionId)) {
          ctx.addIssue({
            code: "custom",
            path: ["datasets", i, "dimensionMap", label],
            message: `maps to dimension ${dimensionId}, which is not among the job's dimensions`,
          });
        }
        covered.add(dimensionId);
      }
    });
    p.dimensions.forEach((d, i) => {
      if (!covered.has(d.id)) {
        ctx.addIssue({ code: "custom", path: ["dimensions", i], message: `no dataset provides labels for dimension ${d.name}` });
      }
    });
  });
export type TrainJobPayload = z.infer<typeof TrainJobPayloadSchema>;

/**
 * Where an evaluator's score head reads the backbone: "last" = the hidden state of the last token; "mean" = the
 * average over the response tokens (a length-controlled reward). Recorded in the evaluator file, so scoring reads it.
 */
export const EVALUATOR_POOLINGS = ["last", "mean"] as const;
export type EvaluatorPooling = (typeof EVALUATOR_POOLINGS)[number];
export const EvaluatorPoolingSchema = z.enum(EVALUATOR_POOLINGS);

/**
 * Train a scalar evaluator (reward model) for one dimension, used to score evaluation sweeps. It trains on the
 * records of `trainSplit` and reports held-out accuracy on `heldOutSplit`. The defaults (VALIDATION, TEST) keep it
 * disjoint from the ARM's training split (TRAIN): an evaluator that saw the ARM's pairs rewards memorisation.
 * The two splits must differ. Payloads without pooling/trainSplit/heldOutSplit parse with the defaults.
 */
export const TrainEvaluatorPayloadSchema = z
  .object({
    evaluatorName: z.string().min(1),
    dimension: DimensionRefSchema,
    baseModel: ModelRefSchema,
    dataset: DatasetRefSchema,
    /** Which label of the dataset trains this evaluator ("preferred", "better", "safer"). */
    labelName: z.string().min(1),
    lr: z.number().positive(),
    epochs: PositiveInt,
    batchSize: PositiveInt,
    seed: z.number().int().min(0).max(2 ** 32 - 1),
    maxLength: PositiveInt,
    pooling: EvaluatorPoolingSchema.default("last"),
    trainSplit: DatasetSplitSchema.default("VALIDATION"),
    heldOutSplit: DatasetSplitSchema.default("TEST"),
  })
  .superRefine((p, ctx) => {
    if (p.heldOutSplit === p.trainSplit) {
      ctx.addIssue({ code: "custom", path: ["heldOutSplit"], message: `must differ from trainSplit (both ${p.trainSplit})` });
    }
  });
export type TrainEvaluatorPayload = z.infer<typeof TrainEvaluatorPayloadSchema>;

/**
 * Guided generation: one output per α in `alphas` (α-batched); each α is checked against the ARM's dimensions.
 * `arm` null = plain base-model decoding, and then `alphas` must be `[[]]` (one unguided output).
 */
/** Most samples of one α in a generation (OpenAI's `n` with sampling). */
export const MAX_SAMPLES_PER_ALPHA = 16;
/** Most decoded rows of one generation (α × samples). */
export const MAX_GENERATION_ROWS = 256;

export const GeneratePayloadSchema = z
  .object({
    base: ModelRefSchema,
    arm: AdapterRefSchema.nullable(),
    prompt: z.string().min(1),
    alphas: z.array(z.array(z.number())).min(1).max(MAX_GENERATION_ROWS),
    /** Guidance strength: log p = log_softmax(base) + (1/β)·log_softmax(ARM(α)). */
    beta: z.number().positive(),
    sampling: SamplingSchema,
    maxTokens: PositiveInt.max(8192),
    /** Outputs per α (default 1): sample j of an α is decoded with seed + j; outputs are α-major (output v·s + j). */
    samplesPerAlpha: PositiveInt.max(MAX_SAMPLES_PER_ALPHA).default(1),
  })
  .superRefine((p, ctx) => {
    if (p.alphas.length * p.samplesPerAlpha > MAX_GENERATION_ROWS) {
      ctx.addIssue({ code: "custom", path: ["samplesPerAlpha"], message: `alphas × samplesPerAlpha must be at most ${MAX_GENERATION_ROWS} rows` });
    }
    if (p.arm === null) {
      if (p.alphas.length !== 1 || p.alphas[0].length !== 0) {
        ctx.addIssue({ code: "custom", path: ["alphas"], message: "without an ARM, alphas must be [[]] (one unguided output)" });
      }
      return;
    }
    addAlphaIssues(p.alphas, p.arm.dimensions.length, ctx, "alphas");
  });
export type GeneratePayload = z.infer<typeof GeneratePayloadSchema>;

/** Pareto evaluation: sweep a simplex grid, generate for held-out prompts, score with one evaluator per dimension. */
export const EvaluatePayloadSchema = z
  .object({
    adapter: AdapterRefSchema,
    base: ModelRefSchema,
    /** Simplex grid spacing; 1/gridStep must be an integer (0.1 → 11 points for two dimensions). */
    gridStep: z.number().gt(0).max(1),
    prompts: z.object({
      dataset: DatasetRefSchema,
      split: DatasetSplitSchema,
      count: PositiveInt.max(100_000),
    }),
    /** One evaluator per adapter dimension, in α order. */
    evaluators: z.array(ModelRefSchema).min(1),
    /** Hypervolume reference point (one per dimension); null = derived from the data and stored with the result. */
    referencePoint: z.array(z.number()).nullable(),
    beta: z.number().positive(),
    sampling: SamplingSchema,
    maxTokens: PositiveInt.max(8192),
    /** Prompts longer than this many tokens keep their last maxPromptTokens (the turn being answered); null = the
     *  model's context minus maxTokens. */
    maxPromptTokens: PositiveInt.nullable().default(null),
    /** The adapter's training template (prompt-template.ts): generation starts from the dataset's bare prompts
     *  (PKU_SAFERLHF, GENERIC) rendered through it, as the adapter was trained; evaluators score the prompts as
     *  the dataset holds them. null or absent (older payloads) = prompts as they are. */
    promptTemplate: PromptTemplateSchema.nullable().optional(),
  })
  .superRefine((p, ctx) => {
    const k = p.adapter.dimensions.length;
    const steps = 1 / p.gridStep;
    if (Math.abs(steps - Math.round(steps)) > 1e-9) {
      ctx.addIssue({ code: "custom", path: ["gridStep"], message: "1/gridStep must be an integer" });
    }
    if (p.evaluators.length !== k) {
      ctx.addIssue({ code: "custom", path: ["evaluators"], message: `expected ${k} evaluators (one per dimension), got ${p.evaluators.length}` });
    }
    if (p.referencePoint !== null) {
      if (p.referencePoint.length !== k) {
        ctx.addIssue({ code: "custom", path: ["referencePoint"], message: `expected ${k} coordinates, got ${p.referencePoint.length}` });
      } else if (!p.referencePoint.every(Number.isFinite)) {
        ctx.addIssue({ code: "custom", path: ["referencePoint"], message: "coordinates must be finite" });
      }
    }
  });
export type EvaluatePayload = z.infer<typeof EvaluatePayloadSchema>;

/** Payload schema and type per job kind. */
export const JOB_PAYLOAD_SCHEMAS = {
  train: TrainJobPayloadSchema,
  "train-evaluator": TrainEvaluatorPayloadSchema,
  generate: GeneratePayloadSchema,
  evaluate: EvaluatePayloadSchema,
} as const satisfies Record<JobKind, z.ZodType>;
export type JobPayloadByKind = { [K in JobKind]: z.infer<(typeof JOB_PAYLOAD_SCHEMAS)[K]> };

// ---------------------------------------------------------------------------------------------------------------
// Envelope

const envelopeBase = {
  jobId: SubjectTokenSchema,
  tenantId: SubjectTokenSchema,
  /** ISO-8601 time the job row was created. */
  createdAt: z.iso.datetime({ offset: true }),
};

/** What is published on `jobs.<kind>.<tenantId>`: the job row's identity plus its typed payload. */
export const JobEnvelopeSchema = z.discriminatedUnion("kind", [
  z.object({ ...envelopeBase, kind: z.literal("train"), payload: TrainJobPayloadSchema }),
  z.object({ ...envelopeBase, kind: z.literal("train-evaluator"), payload: TrainEvaluatorPayloadSchema }),
  z.object({ ...envelopeBase, kind: z.literal("generate"), payload: GeneratePayloadSchema }),
  z.object({ ...envelopeBase, kind: z.literal("evaluate"), payload: EvaluatePayloadSchema }),
]);
export type JobEnvelope = z.infer<typeof JobEnvelopeSchema>;
export type JobEnvelopeOf<K extends JobKind> = Extract<JobEnvelope, { kind: K }>;

/** Validates an unknown value as a job envelope; throws {@link ContractValidationError} naming each bad field. */
export function parseJobEnvelope(value: unknown): JobEnvelope {
  const result = JobEnvelopeSchema.safeParse(value);
  if (!result.success) throw ContractValidationError.fromZod("JobEnvelope", result.error);
  return result.data;
}

/** Validates a payload for a kind; throws {@link ContractValidationError}. */
export function parseJobPayload<K extends JobKind>(kind: K, value: unknown): JobPayloadByKind[K] {
  const result = JOB_PAYLOAD_SCHEMAS[kind].safeParse(value);
  if (!result.success) throw ContractValidationError.fromZod(`${kind} job payload`, result.error);
  return result.data as JobPayloadByKind[K];
}

// ---------------------------------------------------------------------------------------------------------------
// NATS names

/** JetStream work-queue stream of jobs (subjects `jobs.>`). */
export const JOBS_STREAM = "JOBS";
/** JetStream limits stream of job events (subjects `events.job.>`), replayable by sequence. */
export const EVENTS_STREAM = "EVENTS";
/** Dead-letter copies of jobs that exhausted `max_deliver` (subjects `dlq.jobs.>`). */
export const JOBS_DLQ_STREAM = "JOBS_DLQ";
/** KV bucket of runner heartbeats. */
export const RUNNERS_KV_BUCKET = "runners";
/** KV bucket whose keys are ids of jobs whose cancellation was requested (value: a JSON reason). */
export const JOB_CANCELS_KV_BUCKET = "job_cancels";
/** Object store bucket for model files, dataset snapshots, checkpoints and adapters. */
export const ARTIFACTS_OBJECT_STORE = "artifacts";

export const JOBS_SUBJECT_WILDCARD = "jobs.>";
export const EVENTS_SUBJECT_WILDCARD = "events.job.>";
export const DLQ_SUBJECT_WILDCARD = "dlq.jobs.>";

function subjectToken(field: string, value: string): string {
  if (!SubjectTokenSchema.safeParse(value).success) throw new InvalidSubjectTokenError(field, value);
  return value;
}

/** `jobs.<kind>.<tenantId>`. */
export function jobSubject(kind: JobKind, tenantId: string): string {
  return `jobs.${kind}.${subjectToken("tenantId", tenantId)}`;
}

/** Filter of the durable consumer for one kind: `jobs.<kind>.>` (filters of different kinds never overlap). */
export function jobKindFilter(kind: JobKind): string {
  return `jobs.${kind}.>`;
}

/** Durable pull consumer name on JOBS for one kind: `jobs-<kind>`. */
export function jobConsumerName(kind: JobKind): string {
  return `jobs-${kind}`;
}

/** `events.job.<jobId>`. */
export function eventSubject(jobId: string): string {
  return `events.job.${subjectToken("jobId", jobId)}`;
}

/** Subject of a dead-letter copy: `dlq.jobs.<kind>.<tenantId>`. */
export function dlqSubject(kind: JobKind, tenantId: string): string {
  return `dlq.${jobSubject(kind, tenantId)}`;
}

/** Parses `jobs.<kind>.<tenantId>`; null when the subject is not a job subject. */
export function parseJobSubject(subject: string): { kind: JobKind; tenantId: string } | null {
  const parts = subject.split(".");
  if (parts.length !== 3 || parts[0] !== "jobs") return null;
  const kind = JobKindSchema.safeParse(parts[1]);
  if (!kind.success || !SubjectTokenSchema.safeParse(parts[2]).success) return null;
  return { kind: kind.data, tenantId: parts[2] };
}

/** Parses `events.job.<jobId>`; null otherwise. */
export function parseEventSubject(subject: string): { jobId: string } | null {
  const parts = subject.split(".");
  if (parts.length !== 3 || parts[0] !== "events" || parts[1] !== "job") return null;
  return SubjectTokenSchema.safeParse(parts[2]).success ? { jobId: parts[2] } : null;
}
