/** @module api/plugins/metrics/state-metrics
 *  Gauges read at scrape time (prom-client `collect`) from the platform's state (docs/operations.md, Metrics):
 *  - `parm_jobs{kind,status}`: jobs in PostgreSQL by kind and status (one GROUP BY over the jobs index);
 *  - `parm_jobs_pending{kind}` / `parm_jobs_in_flight{kind}`: the kind's work queue (consumer pending / delivered and
 *    not acked), one bus call per kind;
 *  - `parm_runners_online`, `parm_runner_slots`, `parm_runner_free_slots`: live runner heartbeats and their slots.
 *  Each source is read at most once per `reuseMs` (concurrent and back-to-back scrapes share one read) and given
 *  `timeoutMs`; a source that fails or times out leaves its labelled gauges empty and its plain gauges NaN for
 *  that scrape (logged); the rest of /metrics still answers. With `tenantLabels`, `parm_jobs` also has a `tenant` label. */
import { Gauge, type Registry } from "prom-client";
import type { JobBus } from "../../../bus/index.ts";
import { JOB_KINDS, jobKindFromDbName, type JobKind, type JobKindDbName, type JobStatus } from "../../../contracts/index.ts";
import type { Database } from "../../db/index.ts";
import { readRunnerHeartbeats } from "../../ingest/runner-registry.ts";
import type { Logger } from "../../server/logger.ts";

export interface StateMetricsDeps {
  readonly db: Pick<Database, "system">;
  readonly bus: Pick<JobBus, "queueDepth" | "runners">;
  readonly log: Pick<Logger, "warn">;
  readonly tenantLabels?: boolean;
  /** A source's reading is reused for this long (default 1000 ms). */
  readonly reuseMs?: number;
  /** Longest wait for one source (default 3000 ms). */
  readonly timeoutMs?: number;
}

/** A reading shared by the scrapes within `reuseMs`; null when the source failed. */
function sharedReading<T>(name: string, read: () => Promise<T>, deps: StateMetricsDeps): () => Promise<T | null> {
  const reuseMs = deps.reuseMs ?? 1000;
  const timeoutMs = deps.timeoutMs ?? 3000;
  let last: { at: number; value: Promise<T | null> } | null = null;
  return () => {
    const now = Date.now();
    if (last && now - last.at < reuseMs) return last.value;
    let timer: NodeJS.Timeout | undefined;
    const value = Promise.race([
      read(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ])
      .catch((error: unknown) => {
        deps.log.warn("a metrics source failed; its gauges are empty in this scrape", { source: name, error: error instanceof Error ? error.message : String(error) });
        return null;
      })
      .finally(() => clearTimeout(timer));
    last = { at: now, value };
    return value;
  };
}

export function registerStateMetrics(registry: Registry, deps: StateMetricsDeps): void {
  const tenantLabels = deps.tenantLabels ?? false;
  const jobCounts = sharedReading(
    "jobs",
    async () => {
      const groups = (await deps.db.system.job.groupBy({
        by: tenantLabels ? ["tenantId", "kind", "status"] : ["kind", "status"],
        _count: { _all: true },
      })) as unknown as Array<{ tenantId?: string; kind: JobKindDbName; status: JobStatus; _count: { _all: number } }>;
      return groups;
    },
    deps,
  );
  const queues = sharedReading(
    "queues",
    async () => Promise.all(JOB_KINDS.map(async (kind) => ({ kind, depth: await deps.bus.queueDepth(kind) }))),
    deps,
  );
  const runners = sharedReading("runners", () => readRunnerHeartbeats(deps.bus.runners), deps);

  new Gauge({
    name: "parm_jobs",
    help: "Jobs by kind and status (PostgreSQL, read at scrape time).",
    labelNames: tenantLabels ? ["kind", "status", "tenant"] : ["kind", "status"],
    registers: [registry],
    async collect() {
      const groups = await jobCounts();
      this.reset();
      for (const group of groups ?? []) {
        const labels: Record<string, string> = { kind: jobKindFromDbName(group.kind), status: group.status };
        if (tenantLabels && group.tenantId) labels.tenant = group.tenantId;
        this.set(labels, group._count._all);
      }
    },
  });
  const queueGauge = (name: string, help: string, pick: (depth: { pending: number; inFlight: number }) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ["kind"],
      registers: [registry],
      async collect() {
        const depths = await queues();
        this.reset();
        for (const { kind, depth } of depths ?? []) this.set({ kind: kind as JobKind }, pick(depth));
      },
    });
  queueGauge("parm_jobs_pending", "Jobs waiting in the kind's work queue for a runner (consumer num_pending).", (d) => d.pending);
  queueGauge("parm_jobs_in_flight", "Jobs of the kind delivered to a runner and not yet acknowledged.", (d) => d.inFlight);
  const runnerGauge = (name: string, help: string, sum: (list: Awaited<ReturnType<typeof readRunnerHeartbeats>>) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const list = await runners();
        this.set(list ? sum(list) : Number.NaN); // NaN: unknown in this scrape
      },
    });
  runnerGauge("parm_runners_online", "Runners with a live heartbeat.", (list) => list.length);
  runnerGauge("parm_runner_slots", "Job slots of the runners online.", (list) => list.reduce((n, r) => n + r.totalSlots, 0));
  runnerGauge("parm_runner_free_slots", "Free job slots of the runners online (as of their last heartbeat).", (list) => list.reduce((n, r) => n + r.freeSlots, 0));
}
