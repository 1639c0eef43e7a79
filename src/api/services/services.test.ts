/** @module api/services/services.test — pure parts of the domain services: α checks, sampling defaults, the
 *  mapping of domain errors to GraphQL union members, report conversion, and replay-then-live streams. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseDataset } from "../../contracts/index.ts";
import { InvalidPreferenceVector, NotFoundError, QuotaExceeded, ValidationError, toGlobalId } from "../../schema/common/index.ts";
import { DatasetValidationFailed } from "../../schema/dataset/index.ts";
import { JobNotCancellable } from "../../schema/job/index.ts";
import { ModelFileInvalid, VocabularyMismatch } from "../../schema/model/index.ts";
import { createApiPubSub } from "../pubsub/index.ts";
import {
  DatasetRejectedError,
  EntityNotFoundError,
  InputValidationError,
  JobNotCancellableError,
  NameTakenError,
  PreferenceVectorError,
  TenantQuotaError,
  VocabularyMismatchError,
} from "./errors.ts";
import { checkAlphas, resolveSampling, type SamplingCommand } from "./generations.ts";
import { ModelFileError } from "./model-inspect.ts";
import { assertSameVocabulary, type ModelRow } from "./models.ts";
import { reportToGraphQL, toPayloadError } from "./payload-errors.ts";
import { replayThenLive, type LiveMessage } from "./streams.ts";
import { createLocalModelFileStore, createLocalSnapshotWriter } from "./model-store.ts";

const UUID = "11111111-2222-4333-8444-555555555555";

function problemOf(alphas: number[][], k: number): PreferenceVectorError | null {
  try {
    checkAlphas(alphas, k, "input.alphas");
    return null;
  } catch (error) {
    assert.ok(error instanceof PreferenceVectorError);
    return error;
  }
}

describe("checkAlphas", () => {
  it("accepts vectors on the simplex within 1e-6 and names the first bad vector and entry", () => {
    assert.equal(problemOf([[0.5, 0.5], [1, 0], [0.1 + 0.2, 0.7], [0.5, 0.5000009]], 2), null);
    assert.equal(problemOf([[0.5, 0.5000011]], 2)?.problem.code, "NOT_NORMALIZED");
    const nan = problemOf([[0.5, 0.5], [Number.NaN, 1]], 2);
    assert.equal(nan?.problem.code, "NOT_FINITE");
    assert.equal(nan?.vectorIndex, 1);
    assert.equal(nan?.problem.index, 0);
    assert.match(nan!.message, /^input\.alphas\[1\]: alpha\[0\] is NaN/);
    assert.equal(problemOf([[Number.POSITIVE_INFINITY, 0]], 2)?.problem.code, "NOT_FINITE");
    assert.equal(problemOf([[1.5, -0.5]], 2)?.problem.index, 1);
    assert.equal(problemOf([[1, 0]], 3)?.problem.code, "WRONG_LENGTH");
  });
});

describe("resolveSampling", () => {
  it("defaults to greedy and names out-of-range fields", () => {
    assert.deepEqual(resolveSampling(null, "s"), { temperature: 0, topK: 0, topP: 1, seed: null, stop: [] });
    assert.deepEqual(resolveSampling({ temperature: 0.7, topK: 40, topP: 0.9, seed: 3, stop: ["\n"] }, "s"), {
      temperature: 0.7,
      topK: 40,
      topP: 0.9,
      seed: 3,
      stop: ["\n"],
    });
    const cases: [SamplingCommand, string][] = [
      [{ temperature: 11 }, "s.temperature"],
      [{ topK: 1.5 }, "s.topK"],
      [{ topP: 1.01 }, "s.topP"],
      [{ seed: 2 ** 32 }, "s.seed"],
      [{ stop: [""] }, "s.stop"],
    ];
    for (const [input, field] of cases) {
      assert.throws(() => resolveSampling(input, "s"), (e: unknown) => e instanceof InputValidationError && e.field === field);
    }
  });
});

describe("assertSameVocabulary", () => {
  const row = (id: string, vocabSize: number | null, tokenizerHash: string | null) => ({ id, vocabSize, tokenizerHash }) as ModelRow;
  it("passes equal or unknown vocabularies and rejects different sizes or digests", () => {
    assert.doesNotThrow(() => assertSameVocabulary(row("a", 512, "x"), row("b", 512, "x")));
    assert.doesNotThrow(() => assertSameVocabulary(row("a", null, null), row("b", 512, "x")));
    assert.throws(() => assertSameVocabulary(row("a", 32000, null), row("b", 32001, null)), /32000 and 32001 differ/);
    assert.throws(() => assertSameVocabulary(row("a", 512, "x"), row("b", 512, "y")), VocabularyMismatchError);
  });
});

describe("toPayloadError", () => {
  it("maps each expected failure to its union member with global ids", () => {
    const notFound = toPayloadError(new EntityNotFoundError("Dataset", UUID));
    assert.ok(notFound instanceof NotFoundError);
    assert.equal(notFound.id, toGlobalId("Dataset", UUID));
    const validation = toPayloadError(new InputValidationError("input.r1", "must be ≥ 1"));
    assert.ok(validation instanceof ValidationError);
    assert.equal(validation.field, "input.r1");
    assert.ok(toPayloadError(new NameTakenError("dataset", "input.name", "x")) instanceof ValidationError);
    const alpha = toPayloadError(new PreferenceVectorError({ code: "NEGATIVE", message: "alpha[1] is -1", index: 1 }, 0, "input.alphas"));
    assert.ok(alpha instanceof InvalidPreferenceVector);
    assert.equal(alpha.code, "NEGATIVE");
    assert.equal(alpha.index, 1);
    const quota = toPayloadError(new TenantQuotaError("CONCURRENT_JOBS", 4, 4, 1, 30));
    assert.ok(quota instanceof QuotaExceeded);
    assert.deepEqual([quota.quota, quota.limit, quota.retryAfter], ["maxConcurrentJobs", 4, 30]);
    const vocab = toPayloadError(new VocabularyMismatchError(UUID, UUID.replace("1111", "9999"), 1, 2, "sizes differ"));
    assert.ok(vocab instanceof VocabularyMismatch);
    assert.equal(vocab.baseModelId, toGlobalId("Model", UUID));
    const job = toPayloadError(new JobNotCancellableError(UUID, "SUCCEEDED"));
    assert.ok(job instanceof JobNotCancellable);
    assert.equal(job.status, "SUCCEEDED");
    const file = toPayloadError(new ModelFileError("file:///x", "LOCATION_REFUSED", "is refused"));
    assert.ok(file instanceof ModelFileInvalid);
    assert.equal(file.problem, "LOCATION_REFUSED");
  });

  it("converts a rejected report, and rethrows anything unexpected", () => {
    const bytes = Buffer.from('{"prompt":"p","chosen":"a","rejected":"b"}\nnot json\n');
    const { report } = parseDataset(bytes, "GENERIC", { splitRatios: { train: 1, validation: 0, test: 0 } });
    const failed = toPayloadError(new DatasetRejectedError(report, "bad lines"));
    assert.ok(failed instanceof DatasetValidationFailed);
    assert.deepEqual(failed.report.issues.map((i) => [i.line, i.code]), [[2, "MALFORMED_JSON"]]);
    assert.deepEqual(failed.report.countsByCode, [{ code: "MALFORMED_JSON", count: 1 }]);
    assert.deepEqual(reportToGraphQL(report).splitCounts, { train: 1, validation: 0, test: 0 });
    assert.deepEqual(reportToGraphQL(report).labelCounts, [{ label: "preferred", preferResponse0: 1, preferResponse1: 0 }]);
    const bug = new TypeError("bug");
    assert.throws(() => toPayloadError(bug), (e: unknown) => e === bug);
  });
});

describe("replayThenLive", () => {
  type Msg = { kind: "n"; n: number } | { kind: "end" };
  const fromMessage = (m: Msg): LiveMessage<number> => (m.kind === "end" ? { kind: "end" } : { kind: "item", item: m.n });

  it("delivers stored items, then live ones without duplicates, and ends on the end message", async () => {
    const pubSub = createApiPubSub();
    const stream = replayThenLive<number, Msg>({
      pubSub,
      topic: "t",
      loadStored: async () => {
        // Published while the replay is read: must not be lost, and 2 must not repeat.
        pubSub.publish("t", { kind: "n", n: 2 });
        pubSub.publish("t", { kind: "n", n: 3 });
        return [1, 2];
      },
      isFinished: async () => false,
      fromMessage,
      keyOf: (n) => n,
    });
    const seen: number[] = [];
    const consumer = (async () => {
      for await (const n of stream) seen.push(n);
    })();
    await new Promise((r) => setTimeout(r, 20));
    pubSub.publish("t", { kind: "n", n: 4 });
    pubSub.publish("t", { kind: "end" });
    pubSub.publish("t", { kind: "n", n: 5 });
    await consumer;
    assert.deepEqual(seen, [1, 2, 3, 4]);
  });

  it("ends right after the replay when the source is finished", async () => {
    const items: number[] = [];
    for await (const n of replayThenLive<number, Msg>({
      pubSub: createApiPubSub(),
      topic: "t",
      loadStored: async () => [7, 8],
      isFinished: async () => true,
      fromMessage,
      keyOf: (n) => n,
    })) {
      items.push(n);
    }
    assert.deepEqual(items, [7, 8]);
  });

  it("delivers items stored while the replay was read when the source finished meanwhile", async () => {
    const store = [1];
    const items: number[] = [];
    for await (const n of replayThenLive<number, Msg>({
      pubSub: createApiPubSub(),
      topic: "t",
      loadStored: async () => [...store],
      isFinished: async () => {
        store.push(2, 3); // the terminal events landed between the replay and this check
        return true;
      },
      fromMessage,
      keyOf: (n) => n,
    })) {
      items.push(n);
    }
    assert.deepEqual(items, [1, 2, 3]);
  });
});

describe("local artifact stores", () => {
  it("write snapshots atomically with their sha256, store model files, and refuse keys escaping the root", async () => {
    const root = await mkdtemp(join(tmpdir(), "artifact-stores-"));
    try {
      const writer = createLocalSnapshotWriter(join(root, "datasets"));
      async function* lines() {
        yield Buffer.from('{"line":1}\n');
        yield Buffer.from('{"line":2}\n');
      }
      const snapshot = await writer.putSnapshot("datasets/t/d.records.jsonl", lines());
      const text = await readFile(new URL(snapshot.location), "utf8");
      assert.equal(text, '{"line":1}\n{"line":2}\n');
      assert.equal(snapshot.sha256, createHash("sha256").update(text).digest("hex"));
      assert.equal(snapshot.sizeBytes, text.length);
      assert.deepEqual(await readdir(join(root, "datasets", "datasets", "t")), ["d.records.jsonl"]);
      async function* failing() {
        yield Buffer.from("partial");
        throw new Error("source broke");
      }
      await assert.rejects(writer.putSnapshot("datasets/t/e.records.jsonl", failing()), /source broke/);
      assert.deepEqual(await readdir(join(root, "datasets", "datasets", "t")), ["d.records.jsonl"], "no partial file is left");
      await assert.rejects(writer.putSnapshot("../escape.jsonl", lines()), /escapes/);

      const models = createLocalModelFileStore(join(root, "models"));
      const source = join(root, "upload.gguf");
      await writeFile(source, "GGUF");
      const stored = await models.putModelFile("models/t/abc/m.gguf", source);
      assert.equal(await readFile(new URL(stored.location), "utf8"), "GGUF");
      assert.deepEqual(await readdir(join(root, "models", "models", "t", "abc")), ["m.gguf"], "no partial file is left");
      await assert.rejects(models.putModelFile("../../m.gguf", source), /escapes/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
