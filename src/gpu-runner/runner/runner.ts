/**
 * @module gpu-runner/runner/runner — the runner: pulls jobs of its kinds from JetStream, runs them on the engine
 * worker pool through the JobHandler of each kind, and publishes their events.
 *
 * Contracts:
 * - Bus: everything crosses the job bus port (bus/types.ts) — jobs, events, cancellation requests (`bus.cancels`,
 *   KV `job_cancels`), heartbeats (`bus.runners`, KV `runners`, max_age = heartbeat TTL) and artifacts
 *   (`bus.artifacts`, object store `artifacts`): one JetStream connection at `natsUrl`, or a given bus (npm start's
 *   embedded runner: a client of the api's in-process bus over IPC). Setup is idempotent.
 * - Slots: a job is taken only once a slot is free, from whichever kind has one ready (job-picker.ts: no-wait pulls,
 *   woken by the bus's job-ready hints, so an idle runner starts a published job within milliseconds).
 * - Liveness: heartbeats every TTL/3 into KV `runners` (key = runner id); every in-flight delivery gets `working()`
 *   every ackWait/3, from the main thread, which stays free because the engine runs in worker threads.
 * - Before running a delivery: a job whose events already hold `completed` or `failed` is acked without running
 *   (completion is idempotent; a job cancelled while QUEUED has a `failed` CANCELLED event); a job with a key in
 *   `job_cancels` ends CANCELLED.
 * - Outcome: success → `completed` then ack. Cancel (a `job_cancels` key appears while it runs) → the job's
 *   AbortController aborts with reason "cancel": an input fetch gives up at once, the engine stops at its next check
 *   (micro-batch, token, prompt, point, scoring batch, session) and releases its sessions, nothing is stored →
 *   `failed` CANCELLED (after the events already queued, except token events, which are dropped), ack; the log
 *   line names where it stopped. A retryable failure before the last delivery → nak with backoff (no
 *   event). A failure that is not retryable → `failed`, term. A retryable failure on the last delivery
 *   (maxDeliver) → `failed` with that error, then nak, so JetStream's max-deliveries advisory lets the api copy
 *   the job to JOBS_DLQ.
 * - Graceful stop: stop pulling, abort in-flight jobs with reason "shutdown" (the trainer stops at its next micro-batch
 *   and first writes a checkpoint to the object store), nak them for immediate redelivery elsewhere, remove the heartbeat.
 */
import { hostname } from "node:os";
import { connectJetStreamBus, type BusWatch, type JobBus, type JobDelivery } from "../../bus/index.ts";
import type { JobEvent, JobKind, RunnerHeartbeat } from "../../contracts/index.ts";
import { busArtifactStore, createArtifactCache, type ArtifactCache, type ArtifactStore } from "../artifacts/index.ts";
import type { DeviceChoice } from "../device/index.ts";
import { handlerFor, type JobContext, type RunnerLogger } from "../handlers/index.ts";
import { createWorkerPool, type WorkerPool } from "../worker/index.ts";
import { cancelledBeforeRunReason, cancelledWhileRunningReason } from "./cancel-reason.ts";
import { classifyFailure } from "./failures.ts";
import { startJobPicker, type JobPicker } from "./job-picker.ts";
import { Semaphore } from "./semaphore.ts";

export const RUNNER_VERSION = "0.1.0";

export interface RunnerOptions {
  /** The NATS server (JetStream) to connect to; ignored when `bus` is given. */
  readonly natsUrl?: string;
  /** A bus to use instead of connecting (the runner closes it when it stops); its settings (ack wait, max deliver,
   *  heartbeat TTL) are used instead of the options below. */
  readonly bus?: JobBus;
  readonly runnerId: string;
  readonly slots: number;
  readonly kinds: readonly JobKind[];
  readonly device: DeviceChoice;
  readonly cacheDir: string;
  readonly namespace?: string;
  readonly ackWaitMs?: number;
  readonly maxDeliver?: number;
  readonly heartbeatTtlMs?: number;
  /** Longest a free slot waits without a job-ready hint before it pulls again (default 1000 ms, minimum 50): the
   *  bound on noticing a job the bus gives no hint of (a redelivery on JetStream). */
  readonly idlePollMs?: number;
  readonly log?: RunnerLogger;
  /** Worker pool seam (default: `slots` engine worker threads). */
  readonly pool?: WorkerPool;
}

export interface RunningJobInfo {
  readonly jobId: string;
  readonly kind: JobKind;
  readonly attempt: number;
}

export interface Runner {
  readonly id: string;
  readonly bus: JobBus;
  readonly artifacts: ArtifactStore;
  readonly cache: ArtifactCache;
  running(): RunningJobInfo[];
  /** The heartbeat as last written. */
  heartbeat(): RunnerHeartbeat & { deviceName: string; threads: number };
  /** Graceful stop (see the module comment). Resolves when in-flight work was handed back and connections closed. */
  stop(): Promise<void>;
}

type StopReason = "cancel" | "shutdown";

interface InFlight {
  readonly info: RunningJobInfo;
  readonly controller: AbortController;
  stopReason: StopReason | null;
}

const silent: RunnerLogger = { info: () => {}, warn: () => {} };
const TERMINAL_EVENT_TYPES = new Set<JobEvent["type"]>(["completed", "failed"]);

function retryDelayMs(attempt: number): number {
  return Math.min(30_000, 1000 * 2 ** (attempt - 1));
}

async function openBus(options: RunnerOptions, log: RunnerLogger): Promise<JobBus> {
  if (options.bus) return options.bus;
  if (!options.natsUrl) throw new Error("startRunner needs natsUrl or bus");
  return connectJetStreamBus(options.natsUrl, {
    namespace: options.namespace,
    settings: {
      ackWaitMs: options.ackWaitMs ?? 30_000,
      maxDeliver: options.maxDeliver ?? 5,
      heartbeatTtlMs: options.heartbeatTtlMs ?? 30_000,
    },
    log,
    connectionName: `parm-runner-${options.runnerId}`,
  });
}

export async function startRunner(options: RunnerOptions): Promise<Runner> {
  const log = options.log ?? silent;
  const bus = await openBus(options, log);
  const { ackWaitMs, maxDeliver, heartbeatTtlMs } = bus.settings;
  const idlePollMs = Math.max(50, options.idlePollMs ?? 1000);
  const artifacts: ArtifactStore = busArtifactStore(bus.artifacts);
  const cache = createArtifactCache(artifacts, options.cacheDir);
  const pool = options.pool ?? createWorkerPool(options.slots);
  const slots = new Semaphore(options.slots);
  const inFlight = new Map<string, InFlight>();
  const cancelled = new Set<string>();
  let stopping = false;
  const host = hostname() || "unknown-host";

  // ---- cancellation channel: bus.cancels (KV job_cancels), key = job id; the job picker ----------------------
  let cancelWatch: BusWatch;
  let picker: JobPicker;
  try {
    cancelWatch = await bus.cancels.watch((jobId) => {
      cancelled.add(jobId);
      const job = inFlight.get(jobId);
      if (job && job.stopReason === null) {
        job.stopReason = "cancel";
        log.info(`job ${jobId}: cancellation requested; stopping at the next step`);
        job.controller.abort(job.stopReason);
      }
    });
    picker = await startJobPicker({ bus, kinds: options.kinds, idlePollMs, log });
  } catch (error) {
    if (!options.pool) await pool.close();
    await bus.close();
    throw error;
  }

  const isCancelled = async (jobId: string): Promise<boolean> => {
    if (cancelled.has(jobId)) return true;
    try {
      return await bus.cancels.isRequested(jobId);
    } catch {
      return false;
    }
  };

  // ---- heartbeats ---------------------------------------------------------------------------------------------
  let lastHeartbeat = makeHeartbeat();
  function makeHeartbeat(): RunnerHeartbeat & { deviceName: string; threads: number; cachedArtifacts: number } {
    return {
      runnerId: options.runnerId,
      version: RUNNER_VERSION,
      hostname: host,
      device: options.device.provider,
      deviceName: options.device.name,
      threads: options.device.threads,
      kinds: [...options.kinds],
      totalSlots: options.slots,
      freeSlots: Math.max(0, options.slots - inFlight.size),
      loadedModels: pool.loadedModels(),
      runningJobIds: [...inFlight.keys()],
      cachedArtifacts: cache.cachedDigests.size,
      at: new Date().toISOString(),
    };
  }
  const writeHeartbeat = async () => {
    lastHeartbeat = makeHeartbeat();
    try {
      await bus.runners.put(options.runnerId, lastHeartbeat);
    } catch (error) {
      log.warn(`heartbeat not written: ${String(error)}`);
    }
  };
  await writeHeartbeat();
  const heartbeatTimer = setInterval(() => void writeHeartbeat(), Math.max(250, Math.floor(heartbeatTtlMs / 3)));

  // ---- events with retry (the connection may be re-established meanwhile) --------------------------------------
  const publishEvent = async (jobId: string, event: JobEvent): Promise<void> => {
    const deadline = Date.now() + Math.max(60_000, 2 * ackWaitMs);
    for (let attempt = 1; ; attempt++) {
      try {
        await bus.publishEvent(jobId, event);
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== "BUS_TRANSPORT_FAILED" || Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * attempt)));
      }
    }
  };

  // ---- one delivery -------------------------------------------------------------------------------------------
  const runDelivery = async (delivery: JobDelivery): Promise<void> => {
    const { envelope, deliveryCount } = delivery;
    const jobId = envelope.jobId;
    const job: InFlight = { info: { jobId, kind: envelope.kind, attempt: deliveryCount }, controller: new AbortController(), stopReason: null };
    const keepAlive = setInterval(() => {
      try {
        delivery.working();
      } catch {
        // disconnected: JetStream redelivers if this lasts longer than ack_wait
      }
      // Backstop for the KV watch (which may end with a lost connection): look the key up directly.
      if (job.stopReason === null && !cancelled.has(jobId)) {
        void isCancelled(jobId).then((yes) => {
          if (yes && job.stopReason === null) {
            cancelled.add(jobId);
            job.stopReason = "cancel";
            job.controller.abort(job.stopReason);
          }
        });
      }
    }, Math.max(200, Math.floor(ackWaitMs / 3)));
    inFlight.set(jobId, job);
    void writeHeartbeat();
    const started = performance.now();
    let queue: Promise<void> = Promise.resolve();
    let emitError: unknown = null;
    let droppedTokens = 0;
    // Events go out in order, one at a time. A wide α batch makes tokens faster than they are published; once the
    // job is cancelled, the tokens still queued are dropped, so `failed` CANCELLED follows without that backlog.
    const emit = (event: JobEvent) => {
      queue = queue
        .then(() => {
          if (event.type === "token" && job.stopReason === "cancel") droppedTokens++;
          else return publishEvent(jobId, event);
        })
        .catch((error: unknown) => {
          emitError ??= error;
        });
    };
    const flush = async () => {
      await queue;
      if (emitError) throw emitError;
    };
    try {
      const stored = await bus.readEvents(jobId);
      if (stored.some((d) => TERMINAL_EVENT_TYPES.has(d.event.type))) {
        log.info(`job ${jobId}: already finished (its events hold the outcome); acknowledging without running`);
        await delivery.ack();
        return;
      }
      if (await isCancelled(jobId)) {
        await publishEvent(jobId, { type: "failed", code: "CANCELLED", reason: cancelledBeforeRunReason(stored, new Date()), retryable: false });
        await delivery.ack();
        return;
      }
      const context: JobContext = {
        envelope,
        attempt: deliveryCount,
        runnerId: options.runnerId,
        device: options.device,
        pool,
        artifacts,
        cache,
        signal: job.controller.signal,
        log,
        start: async (resumedFromStep) => {
          emit({ type: "started", runnerId: options.runnerId, attempt: deliveryCount, device: options.device.provider, resumedFromStep });
          await flush();
        },
        emit,
      };
      log.info(`job ${jobId} (${envelope.kind}) attempt ${deliveryCount}: running`);
      const completed = await handlerFor(envelope.kind).run(context as never);
      await flush();
      if (job.stopReason === "cancel") throw new Error("the cancellation arrived after the work had finished");
      // Another delivery of this job (after an outage longer than ack_wait) may have finished first.
      const finishedMeanwhile = (await bus.readEvents(jobId)).some((d) => TERMINAL_EVENT_TYPES.has(d.event.type));
      if (!finishedMeanwhile) await publishEvent(jobId, { type: "completed", durationSeconds: (performance.now() - started) / 1000, ...completed });
      await delivery.ack();
      log.info(`job ${jobId}: completed${finishedMeanwhile ? " (another delivery reported it first)" : ""}`);
    } catch (error) {
      await queue;
      if (job.stopReason === "shutdown") {
        log.info(`job ${jobId}: handed back for redelivery (runner stopping)`);
        delivery.nak();
        return;
      }
      if (job.stopReason === "cancel") {
        const reason = cancelledWhileRunningReason((performance.now() - started) / 1000);
        await publishEvent(jobId, { type: "failed", code: "CANCELLED", reason, retryable: false }).catch(() => undefined);
        await delivery.ack().catch(() => undefined);
        const dropped = droppedTokens > 0 ? `; ${droppedTokens} queued token events dropped` : "";
        log.info(`job ${jobId}: cancelled (${error instanceof Error ? error.message : String(error)}${dropped})`);
        return;
      }
      const failure = classifyFailure(error, envelope.kind);
      if (failure.retryable && deliveryCount < maxDeliver) {
        log.warn(`job ${jobId}: attempt ${deliveryCount} of ${maxDeliver} failed (${failure.code}: ${failure.reason}); retrying`);
        delivery.nak(retryDelayMs(deliveryCount));
        return;
      }
      log.warn(`job ${jobId}: failed (${failure.code}: ${failure.reason})`);
      try {
        await publishEvent(jobId, { type: "failed", ...failure });
      } catch (publishError) {
        log.warn(`job ${jobId}: could not publish its failure: ${String(publishError)}`);
        delivery.nak(retryDelayMs(deliveryCount));
        return;
      }
      if (failure.retryable) delivery.nak();
      else delivery.term();
    } finally {
      clearInterval(keepAlive);
      inFlight.delete(jobId);
      void writeHeartbeat();
    }
  };

  // ---- the pick loop: once a slot is free, the next job of any kind (job-picker.ts) -------------------------------
  const active = new Set<Promise<void>>();
  const pickLoop = async () => {
    while (!stopping) {
      const release = await slots.acquire();
      const delivery = stopping ? null : await picker.next();
      if (!delivery || stopping) {
        delivery?.nak();
        release();
        return;
      }
      const work = runDelivery(delivery)
        .catch((error: unknown) => log.warn(`job ${delivery.envelope.jobId}: runner error ${String(error)}`))
        .finally(() => {
          release();
          active.delete(work);
        });
      active.add(work);
    }
  };
  const loop = pickLoop();
  log.info(`runner ${options.runnerId} ready: kinds ${options.kinds.join(", ")}, ${options.slots} slot(s), device ${options.device.provider} (${options.device.name})`);

  let stopped: Promise<void> | null = null;
  return {
    id: options.runnerId,
    bus,
    artifacts,
    cache,
    running: () => [...inFlight.values()].map((j) => j.info),
    heartbeat: () => lastHeartbeat,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        for (const job of inFlight.values()) {
          if (job.stopReason === null) job.stopReason = "shutdown";
          job.controller.abort(job.stopReason);
        }
        await picker.stop();
        await loop;
        await Promise.all([...active]);
        clearInterval(heartbeatTimer);
        await cancelWatch.stop();
        await bus.runners.delete(options.runnerId).catch(() => undefined);
        if (!options.pool) await pool.close();
        await bus.close();
        log.info(`runner ${options.runnerId} stopped`);
      })();
      return stopped;
    },
  };
}
