/**
 * @module contracts/examples — small valid instances of every job payload and envelope, for tests and API docs.
 * Each call returns a fresh object, so callers may mutate it to build invalid variants.
 */
import type {
  DatasetRef,
  EvaluatePayload,
  GeneratePayload,
  JobEnvelope,
  JobKind,
  JobPayloadByKind,
  ModelRef,
  TrainEvaluatorPayload,
  TrainJobPayload,
  AdapterRef,
} from "./jobs.ts";
import { UnreachableCaseError } from "./errors.ts";

const HASH = "0".repeat(64);

export function exampleModelRef(id = "model-1"): ModelRef {
  return { id, location: `obj://artifacts/models/${id}.gguf`, format: "GGUF", sha256: HASH };
}

export function exampleDatasetRef(datasetId = "dataset-1", dimensionMap: Record<string, string> = { better: "dim-help", safer: "dim-safe" }): DatasetRef {
  return {
    datasetId,
    format: "PKU_SAFERLHF",
    snapshot: { location: `obj://artifacts/datasets/${datasetId}.jsonl`, encoding: "records-jsonl", sha256: HASH, recordCount: 16 },
    splitRatios: { train: 0.8, validation: 0.1, test: 0.1 },
    dimensionMap,
  };
}

export function exampleAdapterRef(): AdapterRef {
  return {
    id: "adapter-1",
    method: "PARM",
    location: "obj://artifacts/adapters/adapter-1.bin",
    sha256: HASH,
    armBase: exampleModelRef("arm-base"),
    dimensions: [
      { id: "dim-safe", name: "harmless", betaR: 0.01 },
      { id: "dim-help", name: "helpful", betaR: 0.01 },
    ],
  };
}

export function exampleTrainPayload(): TrainJobPayload {
  return {
    method: "PARM",
    adapterName: "parm-demo",
    baseModel: exampleModelRef("arm-base"),
    dimensions: [
      { id: "dim-safe", name: "harmless", betaR: 0.01 },
      { id: "dim-help", name: "helpful", betaR: 0.01 },
    ],
    datasets: [exampleDatasetRef()],
    r1: 4,
    r2: 4,
    loraAlpha: 8,
    loraDropout: 0.05,
    targets: ["q_proj", "v_proj"],
    lr: 5e-4,
    epochs: 2,
    batchSize: 4,
    gradAccum: 1,
    warmupSteps: 10,
    weightDecay: 0,
    dirichletP: 0.5,
    alphaPer: "STEP",
    truncation: "TRL",
    seed: 42,
    maxPromptLength: 256,
    maxLength: 512,
    checkpointEvery: 100,
    maxPairs: null,
    maxSteps: null,
    promptTemplate: { kind: "named", name: "PKU" },
  };
}

export function exampleTrainEvaluatorPayload(): TrainEvaluatorPayload {
  return {
    evaluatorName: "helpful-rm",
    dimension: { id: "dim-help", name: "helpful", betaR: 0.01 },
    baseModel: exampleModelRef("rm-base"),
    dataset: exampleDatasetRef("dataset-2", { better: "dim-help" }),
    labelName: "better",
    lr: 1e-4,
    epochs: 1,
    batchSize: 8,
    seed: 7,
    maxLength: 512,
    pooling: "last",
    trainSplit: "VALIDATION",
    heldOutSplit: "TEST",
  };
}

export function exampleGeneratePayload(): GeneratePayload {
  return {
    base: exampleModelRef("base"),
    arm: exampleAdapterRef(),
    prompt: "Once upon a time",
    alphas: [
      [1, 0],
      [0.5, 0.5],
      [0, 1],
    ],
    beta: 1,
    sampling: { temperature: 0.7, topK: 40, topP: 0.95, seed: 1, stop: ["\n\n"] },
    samplesPerAlpha: 1,
    maxTokens: 64,
  };
}

export function exampleEvaluatePayload(): EvaluatePayload {
  return {
    adapter: exampleAdapterRef(),
    base: exampleModelRef("base"),
    gridStep: 0.1,
    prompts: { dataset: exampleDatasetRef(), split: "TEST", count: 8 },
    evaluators: [exampleModelRef("rm-safe"), exampleModelRef("rm-help")],
    referencePoint: null,
    beta: 1,
    sampling: { temperature: 0, topK: 0, topP: 1, seed: null, stop: [] },
    maxTokens: 32,
    maxPromptTokens: null,
  };
}

export function examplePayload<K extends JobKind>(kind: K): JobPayloadByKind[K] {
  const k: JobKind = kind;
  switch (k) {
    case "train":
      return exampleTrainPayload() as JobPayloadByKind[K];
    case "train-evaluator":
      return exampleTrainEvaluatorPayload() as JobPayloadByKind[K];
    case "generate":
      return exampleGeneratePayload() as JobPayloadByKind[K];
    case "evaluate":
      return exampleEvaluatePayload() as JobPayloadByKind[K];
    default:
      throw new UnreachableCaseError(k);
  }
}

/** A valid envelope of the given kind (fresh ids unless given). */
export function exampleJobEnvelope(
  kind: JobKind = "train",
  ids: { jobId?: string; tenantId?: string; createdAt?: string } = {},
): JobEnvelope {
  return {
    jobId: ids.jobId ?? crypto.randomUUID(),
    tenantId: ids.tenantId ?? crypto.randomUUID(),
    createdAt: ids.createdAt ?? new Date().toISOString(),
    kind,
    payload: examplePayload(kind),
  } as JobEnvelope;
}
