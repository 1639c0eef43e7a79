/** @module api/plugins/metrics/job-metrics
 *  Metrics fed by what event ingestion sees (docs/operations.md, Metrics): every job event the api ingests for the
 *  first time, with the job as it was before the event and the event's bus time, goes through `observeEvent`; every
 *  dead-lettered job through `observeDeadLetter`.
 *
 *  Instants: "submit" is the job row's `createdAt` (the api accepted the request and wrote the job, just before
 *  publishing it); every other instant is the bus time of the event (when the runner published it), so a replay
 *  after an api restart measures the same as live ingestion.
 *  - `gen_ai_server_time_to_first_token_seconds{method}`: submit → the job's first `token` event, for generations
 *    that SUCCEEDED (OpenTelemetry GenAI: successful responses); one observation per generation, whatever its `n`.
 *  - `gen_ai_server_time_per_output_token_seconds{method}`: (last token − first token) / (longest output's tokens −
 *    1), the time between tokens of one stream (outputs of an α-batch decode in lock-step); generations that
 *    SUCCEEDED with at least two tokens in an output.
 *  - `parm_generation_tokens_total{method}`: token events ingested (tokens runners generated, redeliveries included).
 *  - `parm_job_wait_seconds{kind}`: submit → the job's first `started`.
 *  - `parm_job_run_seconds{kind,status}`: first `started` → the runner's terminal event (completed / failed).
 *  - `parm_jobs_redelivered_total{kind}`: `started` events with attempt > 1.
 *  - `parm_jobs_dead_lettered_total{kind}`: jobs that exhausted their deliveries.
 *  `method` is `unguided`, `parm` or `genarm`; `kind` the contract's job kind. With `tenantLabels` each also has a
 *  `tenant` label (the tenant id); off by default (unbounded). Per-job state (start and token instants) lives in
 *  memory until the job ends, at most MAX_TRACKED jobs (the oldest are dropped); a job whose first token this
 *  process did not see gets no TTFT. */
import { Counter, Histogram, type Registry } from "prom-client";
import {
  JOB_KINDS,
  TERMINAL_JOB_STATUSES,
  jobKindFromDbName,
  type JobEnvelope,
  type JobEvent,
  type JobKind,
  type JobKindDbName,
  type JobStatus,
} from "../../../contracts/index.ts";

export const GENERATION_METHODS = ["unguided", "parm", "genarm"] as const;
export type GenerationMethod = (typeof GENERATION_METHODS)[number];

/** The job fields the metrics read (a JobRow fits). */
export interface ObservedJob {
  readonly id: string;
  readonly tenantId: string;
  readonly kind: JobKindDbName;
  readonly status: JobStatus;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly payload: unknown;
}

export interface JobEventObservation {
  /** The job before the event was applied. */
  readonly job: ObservedJob;
  readonly event: JobEvent;
  /** The job's status after the event. */
  readonly statusAfter: JobStatus;
  /** The event's bus time. */
  readonly at: Date;
}

/** What event ingestion reports to (api/ingest). */
export interface JobEventObserver {
  /** An event ingested for the first time (duplicates are not reported). */
  observeEvent(observation: JobEventObservation): void;
  /** A job moved to the dead-letter stream. */
  observeDeadLetter(envelope: Pick<JobEnvelope, "kind" | "tenantId">): void;
}

export interface JobMetrics extends JobEventObserver {
  readonly timeToFirstToken: Histogram<string>;
  readonly timePerOutputToken: Histogram<string>;
  readonly generationTokens: Counter<string>;
  readonly jobWait: Histogram<string>;
  readonly jobRun: Histogram<string>;
  readonly redelivered: Counter<string>;
  readonly deadLettered: Counter<string>;
}

/** Jobs whose start and token instants are kept at most. */
export const MAX_TRACKED_JOBS = 10_000;

// OpenTelemetry GenAI semantic conventions' advised buckets for these two histograms.
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const TPOT_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5];
const WAIT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600];
const RUN_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400];

/** `unguided` without an ARM, else the adapter's method, from a generate payload. */
export function generationMethod(payload: unknown): GenerationMethod {
  const arm = (payload as { arm?: { method?: unknown } | null } | null)?.arm;
  if (!arm) return "unguided";
  return arm.method === "GENARM" ? "genarm" : "parm";
}

interface Tracked {
  startedAt?: number;
  firstTokenAt?: number;
  lastTokenAt?: number;
}

export function createJobMetrics(registry: Registry, options: { tenantLabels?: boolean } = {}): JobMetrics {
  const tenantLabels = options.tenantLabels ?? false;
  const withTenant = (names: string[]) => (tenantLabels ? [...names, "tenant"] : names);
  const timeToFirstToken = new Histogram({
    name: "gen_ai_server_time_to_first_token_seconds",
    help: "Generations that succeeded: seconds from the job's submit to its first generated token (OpenTelemetry gen_ai.server.time_to_first_token).",
    labelNames: withTenant(["method"]),
    buckets: TTFT_BUCKETS,
    registers: [registry],
  });
  const timePerOutputToken = new Histogram({
    name: "gen_ai_server_time_per_output_token_seconds",
    help: "Generations that succeeded: seconds per output token after the first, per stream (OpenTelemetry gen_ai.server.time_per_output_token).",
    labelNames: withTenant(["method"]),
    buckets: TPOT_BUCKETS,
    registers: [registry],
  });
  const generationTokens = new Counter({
    name: "parm_generation_tokens_total",
    help: "Tokens generated by generation jobs (token events ingested).",
    labelNames: withTenant(["method"]),
    registers: [registry],
  });
  const jobWait = new Histogram({
    name: "parm_job_wait_seconds",
    help: "Seconds from a job's submit (publish) to its first start on a runner.",
    labelNames: withTenant(["kind"]),
    buckets: WAIT_BUCKETS,
    registers: [registry],
  });
  const jobRun = new Histogram({
    name: "parm_job_run_seconds",
    help: "Seconds from a job's first start to the runner's terminal event, by final status.",
    labelNames: withTenant(["kind", "status"]),
    buckets: RUN_BUCKETS,
    registers: [registry],
  });
  const redelivered = new Counter({
    name: "parm_jobs_redelivered_total",
    help: "Jobs started again after an earlier delivery (started events with attempt > 1).",
    labelNames: withTenant(["kind"]),
    registers: [registry],
  });
  const deadLettered = new Counter({
    name: "parm_jobs_dead_lettered_total",
    help: "Jobs moved to the dead-letter stream after exhausting their deliveries.",
    labelNames: withTenant(["kind"]),
    registers: [registry],
  });
  if (!tenantLabels) {
    for (const method of GENERATION_METHODS) generationTokens.inc({ method }, 0);
    for (const kind of JOB_KINDS) {
      redelivered.inc({ kind }, 0);
      deadLettered.inc({ kind }, 0);
    }
  }

  const tracked = new Map<string, Tracked>();
  const track = (jobId: string): Tracked => {
    let entry = tracked.get(jobId);
    if (!entry) {
      if (tracked.size >= MAX_TRACKED_JOBS) tracked.delete(tracked.keys().next().value!);
      entry = {};
      tracked.set(jobId, entry);
    }
    return entry;
  };
  const labels = (tenantId: string, values: Record<string, string>) => (tenantLabels ? { ...values, tenant: tenantId } : values);
  const seconds = (fromMs: number, toMs: number) => Math.max(0, toMs - fromMs) / 1000;

  const finish = (job: ObservedJob, kind: JobKind, event: Extract<JobEvent, { type: "completed" | "failed" }>, status: JobStatus, at: number) => {
    const entry = tracked.get(job.id);
    tracked.delete(job.id);
    const startedAt = entry?.startedAt ?? job.startedAt?.getTime();
    if (startedAt !== undefined) jobRun.observe(labels(job.tenantId, { kind, status }), seconds(startedAt, at));
    if (kind !== "generate" || status !== "SUCCEEDED" || event.type !== "completed" || entry?.firstTokenAt === undefined) return;
    const method = { method: generationMethod(job.payload) };
    timeToFirstToken.observe(labels(job.tenantId, method), seconds(job.createdAt.getTime(), entry.firstTokenAt));
    const steps = Math.max(0, ...(event.outputs ?? []).map((o) => o.tokenCount));
    if (steps >= 2 && entry.lastTokenAt !== undefined) {
      timePerOutputToken.observe(labels(job.tenantId, method), seconds(entry.firstTokenAt, entry.lastTokenAt) / (steps - 1));
    }
  };

  return {
    timeToFirstToken,
    timePerOutputToken,
    generationTokens,
    jobWait,
    jobRun,
    redelivered,
    deadLettered,
    observeEvent({ job, event, statusAfter, at }) {
      const kind = jobKindFromDbName(job.kind);
      const time = at.getTime();
      const wasTerminal = TERMINAL_JOB_STATUSES.includes(job.status);
      switch (event.type) {
        case "started":
          if (event.attempt > 1) redelivered.inc(labels(job.tenantId, { kind }));
          if (wasTerminal) return;
          if (job.startedAt !== null) return; // a later attempt: wait and run count from the first start
          jobWait.observe(labels(job.tenantId, { kind }), seconds(job.createdAt.getTime(), time));
          track(job.id).startedAt ??= time;
          return;
        case "token": {
          generationTokens.inc(labels(job.tenantId, { method: generationMethod(job.payload) }));
          if (wasTerminal) return;
          const entry = track(job.id);
          entry.firstTokenAt ??= time;
          entry.lastTokenAt = Math.max(entry.lastTokenAt ?? time, time);
          return;
        }
        case "completed":
        case "failed":
          if (!wasTerminal && TERMINAL_JOB_STATUSES.includes(statusAfter)) finish(job, kind, event, statusAfter, time);
          return;
        default:
          return;
      }
    },
    observeDeadLetter(envelope) {
      deadLettered.inc(labels(envelope.tenantId, { kind: envelope.kind }));
    },
  };
}
