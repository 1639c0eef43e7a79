import { test } from "node:test";
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import type { JobEvent, JobStatus } from "../../../contracts/index.ts";
import { createJobMetrics, generationMethod, MAX_TRACKED_JOBS, type ObservedJob } from "./job-metrics.ts";

const T0 = Date.parse("2025-01-01T00:00:00Z");
const at = (ms: number) => new Date(T0 + ms);
const started = (attempt = 1): JobEvent => ({ type: "started", runnerId: "r1", attempt, device: "cpu", resumedFromStep: 0 });
const token = (outputIndex: number, position: number): JobEvent => ({ type: "token", outputIndex, position, tokenId: 7, text: "a" });
const completed = (tokenCounts: number[]): JobEvent => ({
  type: "completed",
  durationSeconds: 0.3,
  metrics: {},
  outputs: tokenCounts.map((tokenCount) => ({ alpha: [0.5, 0.5], text: "a".repeat(tokenCount), tokenCount, finishReason: "length" as const })),
});

/** Drives one job through events the way ingestion reports them (the job before each event, its status after). */
function jobDriver(metrics: ReturnType<typeof createJobMetrics>, init: Partial<ObservedJob> & Pick<ObservedJob, "id">) {
  let job: ObservedJob = { tenantId: "t1", kind: "GENERATE", status: "QUEUED", createdAt: at(0), startedAt: null, payload: { arm: null }, ...init };
  return (event: JobEvent, ms: number, statusAfter?: JobStatus) => {
    const after: JobStatus =
      statusAfter ?? (event.type === "started" ? "RUNNING" : event.type === "completed" ? "SUCCEEDED" : event.type === "failed" ? "FAILED" : job.status);
    metrics.observeEvent({ job, event, statusAfter: after, at: at(ms) });
    job = { ...job, status: after, startedAt: job.startedAt ?? (event.type === "started" ? at(ms) : null) };
  };
}

/** The metric's samples, each named (histograms name theirs `_bucket`/`_sum`/`_count`, counters leave it out). */
async function values(registry: Registry, name: string) {
  const metric = registry.getSingleMetric(name);
  assert.ok(metric, name);
  return (await metric.get()).values.map((v) => ({ ...v, metricName: (v as { metricName?: string }).metricName ?? name }));
}
const find = (vals: Awaited<ReturnType<typeof values>>, metricName: string, labels: Record<string, string>) =>
  vals.find((v) => v.metricName === metricName && Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;

test("generationMethod: unguided without an ARM, else the adapter's method", () => {
  assert.equal(generationMethod({ arm: null }), "unguided");
  assert.equal(generationMethod({ arm: { method: "PARM" } }), "parm");
  assert.equal(generationMethod({ arm: { method: "GENARM" } }), "genarm");
});

test("a generation of two outputs: TTFT from submit to the first token, TPOT per stream, wait, run, tokens", async () => {
  const registry = new Registry();
  const metrics = createJobMetrics(registry);
  const drive = jobDriver(metrics, { id: "g1", payload: { arm: { method: "PARM" } } });
  drive(started(), 100);
  // Two outputs decode in lock-step, 3 tokens each: steps at 300, 350, 400 ms.
  for (const [i, ms] of [300, 350, 400].entries()) {
    drive(token(0, i), ms);
    drive(token(1, i), ms);
  }
  drive(completed([3, 3]), 450);

  const ttft = await values(registry, "gen_ai_server_time_to_first_token_seconds");
  assert.equal(find(ttft, "gen_ai_server_time_to_first_token_seconds_count", { method: "parm" }), 1);
  assert.ok(Math.abs(find(ttft, "gen_ai_server_time_to_first_token_seconds_sum", { method: "parm" })! - 0.3) < 1e-9);
  const tpot = await values(registry, "gen_ai_server_time_per_output_token_seconds");
  assert.ok(Math.abs(find(tpot, "gen_ai_server_time_per_output_token_seconds_sum", { method: "parm" })! - 0.05) < 1e-9);
  assert.equal(find(await values(registry, "parm_generation_tokens_total"), "parm_generation_tokens_total", { method: "parm" }), 6);
  assert.equal(find(await values(registry, "parm_generation_tokens_total"), "parm_generation_tokens_total", { method: "genarm" }), 0);
  const wait = await values(registry, "parm_job_wait_seconds");
  assert.ok(Math.abs(find(wait, "parm_job_wait_seconds_sum", { kind: "generate" })! - 0.1) < 1e-9);
  const run = await values(registry, "parm_job_run_seconds");
  assert.ok(Math.abs(find(run, "parm_job_run_seconds_sum", { kind: "generate", status: "SUCCEEDED" })! - 0.35) < 1e-9);
  for (const v of [...ttft, ...run]) assert.equal(v.labels.tenant, undefined, "no tenant label by default");
});

test("a redelivered job counts once as redelivered, waits and runs from its first start; failures and cancels get no TTFT", async () => {
  const registry = new Registry();
  const metrics = createJobMetrics(registry);
  const train = jobDriver(metrics, { id: "t1", kind: "TRAIN", payload: {} });
  train(started(1), 1000);
  train(started(2), 5000); // the first runner died; the job is delivered again
  train({ type: "completed", durationSeconds: 1, metrics: {} }, 7000);
  const gen = jobDriver(metrics, { id: "g2", payload: { arm: { method: "GENARM" } } });
  gen(started(), 10);
  gen(token(0, 0), 20);
  gen({ type: "failed", code: "CANCELLED", reason: "cancelled", retryable: false }, 30, "CANCELLED");
  gen(token(0, 1), 40); // a late token after the end still counts as generated

  assert.equal(find(await values(registry, "parm_jobs_redelivered_total"), "parm_jobs_redelivered_total", { kind: "train" }), 1);
  const wait = await values(registry, "parm_job_wait_seconds");
  assert.equal(find(wait, "parm_job_wait_seconds_count", { kind: "train" }), 1);
  assert.ok(Math.abs(find(wait, "parm_job_wait_seconds_sum", { kind: "train" })! - 1) < 1e-9);
  const run = await values(registry, "parm_job_run_seconds");
  assert.ok(Math.abs(find(run, "parm_job_run_seconds_sum", { kind: "train", status: "SUCCEEDED" })! - 6) < 1e-9);
  assert.equal(find(run, "parm_job_run_seconds_count", { kind: "generate", status: "CANCELLED" }), 1);
  const ttft = await values(registry, "gen_ai_server_time_to_first_token_seconds");
  assert.equal(ttft.filter((v) => v.metricName?.endsWith("_count")).length, 0, "no TTFT for a cancelled generation");
  assert.equal(find(await values(registry, "parm_generation_tokens_total"), "parm_generation_tokens_total", { method: "genarm" }), 2);
  metrics.observeDeadLetter({ kind: "evaluate", tenantId: "t1" });
  assert.equal(find(await values(registry, "parm_jobs_dead_lettered_total"), "parm_jobs_dead_lettered_total", { kind: "evaluate" }), 1);
});

test("with tenant labels every job metric names the tenant; per-job state stays bounded", async () => {
  const registry = new Registry();
  const metrics = createJobMetrics(registry, { tenantLabels: true });
  const drive = jobDriver(metrics, { id: "g3", tenantId: "tenant-a" });
  drive(started(), 10);
  drive(token(0, 0), 20);
  drive(completed([1]), 30);
  const ttft = await values(registry, "gen_ai_server_time_to_first_token_seconds");
  assert.equal(find(ttft, "gen_ai_server_time_to_first_token_seconds_count", { method: "unguided", tenant: "tenant-a" }), 1);
  const tpot = await values(registry, "gen_ai_server_time_per_output_token_seconds");
  assert.equal(tpot.filter((v) => v.metricName?.endsWith("_count")).length, 0, "one token: no time per output token");

  // More jobs than are tracked: the oldest lose their state (no TTFT), the newest keep it.
  for (let i = 0; i <= MAX_TRACKED_JOBS; i++) jobDriver(metrics, { id: `j${i}`, tenantId: "tenant-b" })(token(0, 0), 5);
  jobDriver(metrics, { id: "j0", tenantId: "tenant-b", status: "RUNNING", startedAt: at(1) })(completed([1]), 50);
  jobDriver(metrics, { id: `j${MAX_TRACKED_JOBS}`, tenantId: "tenant-b", status: "RUNNING", startedAt: at(1) })(completed([1]), 50);
  const after = await values(registry, "gen_ai_server_time_to_first_token_seconds");
  assert.equal(find(after, "gen_ai_server_time_to_first_token_seconds_count", { method: "unguided", tenant: "tenant-b" }), 1);
});
