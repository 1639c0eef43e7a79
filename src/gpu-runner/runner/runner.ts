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
  const runner = new JobRunner(options, log, await openBus(options, log));
  await runner.open();
  return runner;
}

/** A job's events go out in order, one at a time; once the job is cancelled, queued token events are dropped. */
class EventQueue {
  #queue: Promise<void> = Promise.resolve();
  #error: unknown = null;
  droppedTokens = 0;

  constructor(
    private readonly publish: (event: JobEvent) => Promise<void>,
    private readonly cancelled: () => boolean,
  ) {}

  emit(event: JobEvent): void {
    this.#queue = this.#queue
      .then(() => {
        if (event.type === "token" && this.cancelled()) this.droppedTokens++;
        else return this.publish(event);
      })
      .catch((error: unknown) => {
        this.#error ??= error;
      });
  }

  /** Waits for every queued event; throws the first publishing error. */
  async flush(): Promise<void> {
    await this.#queue;
    if (this.#error) throw this.#error;
  }

  /** Waits for every queued event, errors or not. */
  settled(): Promise<void> {
    return this.#queue;
  }
}

class JobRunner implements Runner {
  readonly id: string;
  readonly artifacts: ArtifactStore;
  readonly cache: ArtifactCache;
  readonly #options: RunnerOptions;
  readonly #log: RunnerLogger;
  readonly #pool: WorkerPool;
  readonly #slots: Semaphore;
  readonly #inFlight = new Map<string, InFlight>();
  readonly #cancelled = new Set<string>();
  readonly #active = new Set<Promise<void>>();
  readonly #host = hostname() || "unknown-host";
  readonly #idlePollMs: number;
  #stopping = false;
  #cancelWatch: BusWatch | null = null;
  #picker: JobPicker | null = null;
  #heartbeatTimer: NodeJS.Timeout | null = null;
  #lastHeartbeat: RunnerHeartbeat & { deviceName: string; threads: number; cachedArtifacts: number };
  #loop: Promise<void> = Promise.resolve();
  #stopped: Promise<void> | null = null;

  constructor(
    options: RunnerOptions,
    log: RunnerLogger,
    readonly bus: JobBus,
  ) {
    this.id = options.runnerId;
    this.#options = options;
    this.#log = log;
    this.#idlePollMs = Math.max(50, options.idlePollMs ?? 1000);
    this.artifacts = busArtifactStore(bus.artifacts);
    this.cache = createArtifactCache(this.artifacts, options.cacheDir);
    this.#pool = options.pool ?? createWorkerPool(options.slots);
    this.#slots = new Semaphore(options.slots);
    this.#lastHeartbeat = this.#makeHeartbeat();
  }

  /** Watches cancellations, starts the job picker and the heartbeats, then the pick loop. */
  async open(): Promise<void> {
    try {
      this.#cancelWatch = await this.bus.cancels.watch((jobId) => this.#cancelRequested(jobId));
      this.#picker = await startJobPicker({ bus: this.bus, kinds: this.#options.kinds, idlePollMs: this.#idlePollMs, log: this.#log });
    } catch (error) {
      if (!this.#options.pool) await this.#pool.close();
      await this.bus.close();
      throw error;
    }
    await this.#writeHeartbeat();
    this.#heartbeatTimer = setInterval(() => void this.#writeHeartbeat(), Math.max(250, Math.floor(this.bus.settings.heartbeatTtlMs / 3)));
    this.#loop = this.#pickLoop(this.#picker);
    const { runnerId, kinds, slots, device } = this.#options;
    this.#log.info(`runner ${runnerId} ready: kinds ${kinds.join(", ")}, ${slots} slot(s), device ${device.provider} (${device.name})`);
  }

  running(): RunningJobInfo[] {
    return [...this.#inFlight.values()].map((j) => j.info);
  }

  heartbeat(): RunnerHeartbeat & { deviceName: string; threads: number } {
    return this.#lastHeartbeat;
  }

  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    for (const job of this.#inFlight.values()) this.#abort(job, "shutdown");
    await this.#picker?.stop();
    await this.#loop;
    await Promise.all([...this.#active]);
    if (this.#heartbeatTimer) clearInterval(this.#heartbeatTimer);
    await this.#cancelWatch?.stop();
    await this.bus.runners.delete(this.id).catch(() => undefined);
    if (!this.#options.pool) await this.#pool.close();
    await this.bus.close();
    this.#log.info(`runner ${this.id} stopped`);
  }

  // ---- cancellation: bus.cancels (KV job_cancels), key = job id --------------------------------------------------

  #cancelRequested(jobId: string): void {
    this.#cancelled.add(jobId);
    const job = this.#inFlight.get(jobId);
    if (job && job.stopReason === null) {
      this.#log.info(`job ${jobId}: cancellation requested; stopping at the next step`);
      this.#abort(job, "cancel");
    }
  }

  #abort(job: InFlight, reason: StopReason): void {
    if (job.stopReason === null) job.stopReason = reason;
    job.controller.abort(job.stopReason);
  }

  async #isCancelled(jobId: string): Promise<boolean> {
    if (this.#cancelled.has(jobId)) return true;
    try {
      return await this.bus.cancels.isRequested(jobId);
    } catch {
      return false;
    }
  }

  // ---- heartbeats ------------------------------------------------------------------------------------------------

  #makeHeartbeat(): RunnerHeartbeat & { deviceName: string; threads: number; cachedArtifacts: number } {
    const { runnerId, device, kinds, slots } = this.#options;
    return {
      runnerId,
      version: RUNNER_VERSION,
      hostname: this.#host,
      device: device.provider,
      deviceName: device.name,
      threads: device.threads,
      kinds: [...kinds],
      totalSlots: slots,
      freeSlots: Math.max(0, slots - this.#inFlight.size),
      loadedModels: this.#pool.loadedModels(),
      runningJobIds: [...this.#inFlight.keys()],
      cachedArtifacts: this.cache.cachedDigests.size,
      at: new Date().toISOString(),
    };
  }

  async #writeHeartbeat(): Promise<void> {
    this.#lastHeartbeat = this.#makeHeartbeat();
    try {
      await this.bus.runners.put(this.id, this.#lastHeartbeat);
    } catch (error) {
      this.#log.warn(`heartbeat not written: ${String(error)}`);
    }
  }

  // ---- the pick loop: once a slot is free, the next job of any kind (job-picker.ts) ---------------------------

  async #pickLoop(picker: JobPicker): Promise<void> {
    while (!this.#stopping) {
      const release = await this.#slots.acquire();
      const delivery = this.#stopping ? null : await picker.next();
      if (!delivery || this.#stopping) {
        delivery?.nak();
        release();
        return;
      }
      const work = this.#runDelivery(delivery)
        .catch((error: unknown) => this.#log.warn(`job ${delivery.envelope.jobId}: runner error ${String(error)}`))
        .finally(() => {
          release();
          this.#active.delete(work);
        });
      this.#active.add(work);
    }
  }

  // ---- one delivery ----------------------------------------------------------------------------------------------

  /** Publishes an event, retrying transport failures (the connection may be re-established meanwhile). */
  async #publishEvent(jobId: string, event: JobEvent): Promise<void> {
    const deadline = Date.now() + Math.max(60_000, 2 * this.bus.settings.ackWaitMs);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.bus.publishEvent(jobId, event);
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== "BUS_TRANSPORT_FAILED" || Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * attempt)));
      }
    }
  }

  async #isFinished(jobId: string): Promise<boolean> {
    return (await this.bus.readEvents(jobId)).some((d) => TERMINAL_EVENT_TYPES.has(d.event.type));
  }

  /** Every ackWait/3: `working()`, and a direct look at the cancellation key (the KV watch may end with a lost
   *  connection). */
  #keepAlive(job: InFlight, delivery: JobDelivery): NodeJS.Timeout {
    return setInterval(() => {
      try {
        delivery.working();
      } catch {
        // disconnected: JetStream redelivers if this lasts longer than ack_wait
      }
      const { jobId } = job.info;
      if (job.stopReason !== null || this.#cancelled.has(jobId)) return;
      void this.#isCancelled(jobId).then((yes) => {
        if (yes && job.stopReason === null) {
          this.#cancelled.add(jobId);
          this.#abort(job, "cancel");
        }
      });
    }, Math.max(200, Math.floor(this.bus.settings.ackWaitMs / 3)));
  }

  async #runDelivery(delivery: JobDelivery): Promise<void> {
    const { envelope, deliveryCount } = delivery;
    const jobId = envelope.jobId;
    const job: InFlight = { info: { jobId, kind: envelope.kind, attempt: deliveryCount }, controller: new AbortController(), stopReason: null };
    const keepAlive = this.#keepAlive(job, delivery);
    this.#inFlight.set(jobId, job);
    void this.#writeHeartbeat();
    const started = performance.now();
    const events = new EventQueue((event) => this.#publishEvent(jobId, event), () => job.stopReason === "cancel");
    try {
      if (await this.#settledBeforeRun(delivery)) return;
      this.#log.info(`job ${jobId} (${envelope.kind}) attempt ${deliveryCount}: running`);
      const completed = await handlerFor(envelope.kind).run(this.#jobContext(delivery, job, events) as never);
      await events.flush();
      if (job.stopReason === "cancel") throw new Error("the cancellation arrived after the work had finished");
      // Another delivery of this job (after an outage longer than ack_wait) may have finished first.
      const finishedMeanwhile = await this.#isFinished(jobId);
      if (!finishedMeanwhile) await this.#publishEvent(jobId, { type: "completed", durationSeconds: (performance.now() - started) / 1000, ...completed });
      await delivery.ack();
      this.#log.info(`job ${jobId}: completed${finishedMeanwhile ? " (another delivery reported it first)" : ""}`);
    } catch (error) {
      await events.settled();
      await this.#settleFailure(delivery, job, error, { seconds: (performance.now() - started) / 1000, droppedTokens: events.droppedTokens });
    } finally {
      clearInterval(keepAlive);
      this.#inFlight.delete(jobId);
      void this.#writeHeartbeat();
    }
  }

  /** Before running: a job whose events hold its outcome is acked; one cancelled meanwhile ends CANCELLED. */
  async #settledBeforeRun(delivery: JobDelivery): Promise<boolean> {
    const jobId = delivery.envelope.jobId;
    const stored = await this.bus.readEvents(jobId);
    if (stored.some((d) => TERMINAL_EVENT_TYPES.has(d.event.type))) {
      this.#log.info(`job ${jobId}: already finished (its events hold the outcome); acknowledging without running`);
      await delivery.ack();
      return true;
    }
    if (await this.#isCancelled(jobId)) {
      await this.#publishEvent(jobId, { type: "failed", code: "CANCELLED", reason: cancelledBeforeRunReason(stored, new Date()), retryable: false });
      await delivery.ack();
      return true;
    }
    return false;
  }

  #jobContext(delivery: JobDelivery, job: InFlight, events: EventQueue): JobContext {
    const { runnerId, device } = this.#options;
    return {
      envelope: delivery.envelope,
      attempt: delivery.deliveryCount,
      runnerId,
      device,
      pool: this.#pool,
      artifacts: this.artifacts,
      cache: this.cache,
      signal: job.controller.signal,
      log: this.#log,
      start: async (resumedFromStep) => {
        events.emit({ type: "started", runnerId, attempt: delivery.deliveryCount, device: device.provider, resumedFromStep });
        await events.flush();
      },
      emit: (event) => events.emit(event),
    };
  }

  /** The outcome of a run that threw: handed back (shutdown), CANCELLED, retried, or failed. */
  async #settleFailure(delivery: JobDelivery, job: InFlight, error: unknown, run: { seconds: number; droppedTokens: number }): Promise<void> {
    const { envelope, deliveryCount } = delivery;
    const jobId = envelope.jobId;
    if (job.stopReason === "shutdown") {
      this.#log.info(`job ${jobId}: handed back for redelivery (runner stopping)`);
      delivery.nak();
      return;
    }
    if (job.stopReason === "cancel") {
      const reason = cancelledWhileRunningReason(run.seconds);
      await this.#publishEvent(jobId, { type: "failed", code: "CANCELLED", reason, retryable: false }).catch(() => undefined);
      await delivery.ack().catch(() => undefined);
      const dropped = run.droppedTokens > 0 ? `; ${run.droppedTokens} queued token events dropped` : "";
      this.#log.info(`job ${jobId}: cancelled (${error instanceof Error ? error.message : String(error)}${dropped})`);
      return;
    }
    const failure = classifyFailure(error, envelope.kind);
    const { maxDeliver } = this.bus.settings;
    if (failure.retryable && deliveryCount < maxDeliver) {
      this.#log.warn(`job ${jobId}: attempt ${deliveryCount} of ${maxDeliver} failed (${failure.code}: ${failure.reason}); retrying`);
      delivery.nak(retryDelayMs(deliveryCount));
      return;
    }
    this.#log.warn(`job ${jobId}: failed (${failure.code}: ${failure.reason})`);
    try {
      await this.#publishEvent(jobId, { type: "failed", ...failure });
    } catch (publishError) {
      this.#log.warn(`job ${jobId}: could not publish its failure: ${String(publishError)}`);
      delivery.nak(retryDelayMs(deliveryCount));
      return;
    }
    if (failure.retryable) delivery.nak();
    else delivery.term();
  }
}
