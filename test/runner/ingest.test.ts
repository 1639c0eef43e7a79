/**
 * The api side of the job bus against real PostgreSQL and nats-server: events a runner publishes reach the job
 * rows (RUNNING → SUCCEEDED, progress, an Adapter row with the artifact's digest and metrics) and the GraphQL
 * pub/sub; a cancellation requested in PostgreSQL reaches the runner through KV job_cancels; a job that exhausts
 * max_deliver is copied to JOBS_DLQ and marked FAILED; the reconciler republishes a QUEUED job missing from the
 * stream; ingestion resumes after the last ingested sequence; the runner list comes from KV runners.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { busNames } from "../../src/bus/index.ts";
import { exampleJobEnvelope, type JobEnvelope } from "../../src/contracts/index.ts";
import { objectStoreModelFileStore, startIngest, type Ingest } from "../../src/api/ingest/index.ts";
import { createArtifactCache } from "../../src/gpu-runner/artifacts/index.ts";
import { runnerNatsNames } from "../../src/gpu-runner/runner/index.ts";
import { readFileSync } from "node:fs";
import { createApiPubSub, Topics } from "../../src/api/pubsub/index.ts";
import { silentLogger } from "../../src/api/server/logger.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { openHarness, waitFor, type Harness } from "./harness.ts";
import { pkuSnapshot, STORIES_GGUF_PATH, STORIES_SHA256, trainEnvelope } from "./fixtures.ts";

const KIND_DB = { train: "TRAIN", generate: "GENERATE", evaluate: "EVALUATE", "train-evaluator": "TRAIN_EVALUATOR" } as const;

describe("api ingest: events, cancellation, dead letters, reconciler", () => {
  let h: Harness;
  let testDb: TestDatabase;
  let ingest: Ingest;
  let tenantId: string;
  let modelId: string;
  const dims = [
    { id: randomUUID(), name: "harmless", betaR: 0.1 },
    { id: randomUUID(), name: "helpful", betaR: 0.1 },
  ];
  const pubSub = createApiPubSub();
  let data: { snapshotKey: string; snapshotSha256: string; recordCount: number };

  const insertJob = async (envelope: JobEnvelope) => {
    await testDb.db.system.job.create({
      data: { id: envelope.jobId, tenantId, kind: KIND_DB[envelope.kind], status: "QUEUED", payload: envelope.payload as object },
    });
  };
  const trainJob = (overrides: Record<string, unknown> = {}) => {
    const envelope = trainEnvelope({ ...data, tenantId, overrides: { ...overrides } });
    envelope.payload.baseModel = { id: modelId, location: STORIES_GGUF_PATH, format: "GGUF", sha256: STORIES_SHA256 };
    envelope.payload.dimensions = dims;
    envelope.payload.datasets[0].dimensionMap = { safer: dims[0].id, better: dims[1].id };
    return envelope;
  };
  const jobRow = (id: string) => testDb.db.system.job.findUniqueOrThrow({ where: { id } });

  before(async () => {
    testDb = await createTestDatabase();
    h = await openHarness();
    const tenant = await testDb.db.system.tenant.create({ data: { name: `ingest-${randomUUID()}` } });
    tenantId = tenant.id;
    const model = await testDb.db.system.model.create({
      data: { tenantId, name: "stories260k", kind: "BASE", format: "GGUF", location: STORIES_GGUF_PATH, sha256: STORIES_SHA256 },
    });
    modelId = model.id;
    const s = pkuSnapshot();
    const stored = await h.artifacts.put("datasets/pku16.records.jsonl", s.bytes);
    data = { snapshotKey: stored.key, snapshotSha256: stored.sha256, recordCount: s.recordCount };
    ingest = await startIngest({
      db: testDb.db,
      bus: h.bus,
      pubSub,
      log: silentLogger,
      reconcileIntervalMs: 3_600_000,
      republishAfterMs: 0,
      cancelPollMs: 200,
      heartbeatTtlMs: 3000,
    });
    await h.startRunner({ kinds: ["train"] });
  });
  after(async () => {
    await ingest?.stop();
    await h?.close();
    await testDb?.drop();
  });

  it("a train job's events drive the job row to SUCCEEDED and create the Adapter row with the artifact digest", async () => {
    const envelope = trainJob();
    await insertJob(envelope);
    const topicMessages: unknown[] = [];
    const iterator = pubSub.subscribe(Topics.job(envelope.jobId))[Symbol.asyncIterator]();
    const reading = (async () => {
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        topicMessages.push(next.value);
        if ((next.value as { kind: string }).kind === "end") return;
      }
    })();
    await h.bus.publishJob(envelope);
    const job = await waitFor("SUCCEEDED", async () => {
      const row = await jobRow(envelope.jobId);
      return row.status === "SUCCEEDED" || row.status === "FAILED" ? row : null;
    }, 90_000);
    assert.equal(job.status, "SUCCEEDED", job.error ?? "");
    assert.equal(job.progress, 100);
    assert.equal(job.attempts, 1);
    assert.equal(job.runnerId, "test-runner-1");
    const adapter = await testDb.db.system.adapter.findFirstOrThrow({ where: { jobId: envelope.jobId } });
    assert.equal(adapter.artifactKey, `adapters/${tenantId}/${envelope.jobId}/adapter.safetensors`);
    const bytes = await h.artifacts.get(adapter.artifactKey!);
    assert.ok(bytes);
    const { createHash } = await import("node:crypto");
    assert.equal(adapter.artifactDigest, createHash("sha256").update(bytes).digest("hex"));
    assert.ok(Number.isFinite((adapter.metrics as Record<string, number>)["loss.helpful"]));
    const stored = await h.bus.readEvents(envelope.jobId);
    const rows = await testDb.db.system.jobEvent.findMany({ where: { jobId: envelope.jobId }, orderBy: { seq: "asc" } });
    assert.deepEqual(rows.map((r) => Number(r.seq)), stored.map((d) => d.seq));
    assert.equal(job.lastEventSeq, BigInt(stored.at(-1)!.seq));
    await reading;
    assert.equal(topicMessages.filter((m) => (m as { kind: string }).kind === "event").length, stored.length);
    assert.deepEqual(topicMessages.at(-1), { kind: "end", status: "SUCCEEDED" });
  });

  it("cancelJob's flag reaches the runner through KV job_cancels; the job ends CANCELLED", async () => {
    const envelope = trainJob({ epochs: 30, checkpointEvery: 0 });
    await insertJob(envelope);
    await h.bus.publishJob(envelope);
    await waitFor("RUNNING with progress", async () => {
      const row = await jobRow(envelope.jobId);
      return row.status === "RUNNING" && row.progress > 0;
    }, 60_000);
    await testDb.db.system.job.update({ where: { id: envelope.jobId }, data: { cancelRequested: true } });
    const job = await waitFor("CANCELLED", async () => {
      const row = await jobRow(envelope.jobId);
      return row.status === "CANCELLED" || row.status === "SUCCEEDED" || row.status === "FAILED" ? row : null;
    }, 30_000);
    assert.equal(job.status, "CANCELLED");
    assert.ok(job.progress < 100);
    assert.ok(await h.cancelsKv.get(envelope.jobId));
  });

  it("a job that exhausts max_deliver is copied to JOBS_DLQ and ends FAILED with MAX_DELIVERIES_EXCEEDED", async () => {
    const envelope = exampleJobEnvelope("evaluate", { tenantId });
    await insertJob(envelope);
    await h.bus.publishJob(envelope);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const [delivery] = await h.bus.pullJobs("evaluate", { max: 1, expiresMs: 3000 });
      assert.equal(delivery.envelope.jobId, envelope.jobId);
      delivery.nak();
    }
    assert.deepEqual(await h.bus.pullJobs("evaluate", { max: 1, expiresMs: 1000 }), []);
    const job = await waitFor("FAILED", async () => {
      const row = await jobRow(envelope.jobId);
      return row.status === "FAILED" ? row : null;
    }, 20_000);
    assert.match(job.error ?? "", /^MAX_DELIVERIES_EXCEEDED: the job was delivered 3 times/);
    const nc = await connect({ servers: h.url });
    try {
      const info = await (await jetstreamManager(nc)).streams.info(busNames(h.namespace).dlqStream);
      assert.equal(info.state.messages, 1);
    } finally {
      await nc.close();
    }
  });

  it("the reconciler republishes a QUEUED job the stream lost (same message id: no duplicate)", async () => {
    const envelope = exampleJobEnvelope("generate", { tenantId });
    await insertJob(envelope);
    const first = await ingest.reconcileOnce();
    assert.ok(first.republished.includes(envelope.jobId));
    assert.equal((await h.bus.queueDepth("generate")).pending, 1);
    await ingest.reconcileOnce();
    assert.equal((await h.bus.queueDepth("generate")).pending, 1, "a second republish collapses as a duplicate");
    const [delivery] = await h.bus.pullJobs("generate", { max: 1, expiresMs: 2000 });
    const row = await jobRow(envelope.jobId);
    assert.deepEqual(delivery.envelope, { ...JSON.parse(JSON.stringify(envelope)), createdAt: row.createdAt.toISOString() });
    delivery.term();
  });

  it("the object-store model file store keeps an upload where a runner's artifact cache fetches it by digest", async () => {
    const bytes = readFileSync(STORIES_GGUF_PATH);
    const store = objectStoreModelFileStore(h.bus.artifacts, runnerNatsNames(h.namespace).artifactsStore);
    const { location } = await store.putModelFile(`models/t1/${STORIES_SHA256}/stories.gguf`, STORIES_GGUF_PATH);
    assert.equal(location, `obj://${runnerNatsNames(h.namespace).artifactsStore}/models/t1/${STORIES_SHA256}/stories.gguf`);
    const cache = createArtifactCache(h.artifacts, h.cacheRoot);
    const path = await cache.resolve(location, STORIES_SHA256, "uploaded base model");
    assert.ok(readFileSync(path).equals(bytes), "the runner reads back the uploaded bytes");
  });

  it("lists runners from their heartbeats", async () => {
    const runners = await ingest.listRunners();
    assert.deepEqual(runners.map((r) => r.runnerId), ["test-runner-1"]);
    assert.equal(runners[0].deviceName, "test-cpu");
    assert.equal(runners[0].threads, 1);
    assert.deepEqual(runners[0].kinds, ["train"]);
  });

  it("a restarted ingest resumes after the last ingested sequence", async () => {
    const before = ingest.lastSeq();
    assert.ok(before > 0);
    await ingest.stop();
    const envelope = exampleJobEnvelope("generate", { tenantId });
    await insertJob(envelope);
    const { seq } = await h.bus.publishEvent(envelope.jobId, { type: "started", runnerId: "r-x", attempt: 1, device: "cpu", resumedFromStep: 0 });
    ingest = await startIngest({ db: testDb.db, bus: h.bus, pubSub, log: silentLogger, reconcileIntervalMs: 3_600_000 });
    const row = await waitFor("RUNNING", async () => {
      const r = await jobRow(envelope.jobId);
      return r.status === "RUNNING" ? r : null;
    }, 10_000);
    assert.equal(row.lastEventSeq, BigInt(seq));
    assert.equal(ingest.lastSeq(), seq);
  });
});
