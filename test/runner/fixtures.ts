/**
 * @module test/runner/fixtures — real inputs for runner tests: the stories260K GGUF (shared data, read in place),
 * a PKU-SafeRLHF dataset snapshot (16 records, two labels), and envelopes for train and generate jobs.
 */
import { readFileSync } from "node:fs";
import { createHash, randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { parseDataset, type JobEnvelope, type JobEnvelopeOf, type TrainJobPayload } from "../../src/contracts/index.ts";

export const SHARED_DATA = new URL("../../../shared/data/", import.meta.url);
export const STORIES_GGUF_PATH = fileURLToPath(new URL("tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf", SHARED_DATA));
export const STORIES_SHA256 = "c14806920629b6c217445c69d7ac61bd0e4047289f8ab824c3f0b4f827a5d1cb";
const PKU_PATH = new URL("pku-saferlhf/alpaca-7b.test.head16.jsonl", SHARED_DATA);

export const DIMENSIONS = [
  { id: "dim-safe", name: "harmless", betaR: 0.1 },
  { id: "dim-help", name: "helpful", betaR: 0.1 },
];

/** JSON Lines of contract PreferenceRecords (75% TRAIN, 25% VALIDATION by content hash) and its sha256. */
export function pkuSnapshot(): { bytes: Uint8Array; sha256: string; recordCount: number } {
  const result = parseDataset(new Uint8Array(readFileSync(PKU_PATH)), "PKU_SAFERLHF", { splitRatios: { train: 0.75, validation: 0.25, test: 0 } });
  const text = result.records.map((r) => JSON.stringify(r) + "\n").join("");
  const bytes = new TextEncoder().encode(text);
  return { bytes, sha256: createHash("sha256").update(bytes).digest("hex"), recordCount: result.records.length };
}

export function storiesModelRef(location = STORIES_GGUF_PATH) {
  return { id: "stories260k", location, format: "GGUF" as const, sha256: STORIES_SHA256 };
}

export function trainEnvelope(options: { snapshotKey: string; snapshotSha256: string; recordCount: number; jobId?: string; tenantId?: string; overrides?: Partial<TrainJobPayload> }): JobEnvelopeOf<"train"> {
  const payload: TrainJobPayload = {
    method: "PARM",
    adapterName: "runner-test",
    baseModel: storiesModelRef(),
    dimensions: DIMENSIONS,
    datasets: [
      {
        datasetId: "pku16",
        format: "PKU_SAFERLHF",
        snapshot: { location: `obj://artifacts/${options.snapshotKey}`, encoding: "records-jsonl", sha256: options.snapshotSha256, recordCount: options.recordCount },
        splitRatios: { train: 0.75, validation: 0.25, test: 0 },
        dimensionMap: { safer: "dim-safe", better: "dim-help" },
      },
    ],
    r1: 2,
    r2: 2,
    loraAlpha: 4,
    loraDropout: 0,
    targets: ["q_proj", "v_proj"],
    lr: 5e-3,
    epochs: 2,
    batchSize: 2,
    gradAccum: 1,
    warmupSteps: 0,
    weightDecay: 0,
    dirichletP: 0.5,
    alphaPer: "MICRO_BATCH",
    truncation: "PREFIX_SHARED",
    seed: 7,
    maxPromptLength: 24,
    maxLength: 48,
    checkpointEvery: 1,
    maxPairs: null,
    maxSteps: null,
    promptTemplate: null,
    ...options.overrides,
  };
  return { jobId: options.jobId ?? randomUUID(), tenantId: options.tenantId ?? randomUUID(), createdAt: new Date().toISOString(), kind: "train", payload };
}

export function generateEnvelope(options: { adapterKey: string | null; adapterSha256?: string | null; alphas?: number[][]; maxTokens?: number }): JobEnvelope {
  return {
    jobId: randomUUID(),
    tenantId: randomUUID(),
    createdAt: new Date().toISOString(),
    kind: "generate",
    payload: {
      base: storiesModelRef(),
      arm:
        options.adapterKey === null
          ? null
          : {
              id: "adapter-under-test",
              method: "PARM",
              location: `obj://artifacts/${options.adapterKey}`,
              sha256: options.adapterSha256 ?? null,
              armBase: storiesModelRef(),
              dimensions: DIMENSIONS,
            },
      prompt: "Once upon a time",
      alphas: options.adapterKey === null ? [[]] : (options.alphas ?? [[1, 0], [0, 1]]),
      beta: 1,
      sampling: { temperature: 0, topK: 0, topP: 1, seed: null, stop: [] },
      maxTokens: options.maxTokens ?? 12,
      samplesPerAlpha: 1,
    },
  };
}
