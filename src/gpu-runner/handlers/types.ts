/**
 * @module gpu-runner/handlers/types — what a job handler receives and returns. The runner owns the delivery
 * (ack/nak, `working()`, cancellation, the started/completed/failed bookkeeping); a handler turns one job's
 * payload into engine work and returns the fields of its `completed` event.
 */
import type { JobEnvelopeOf, JobEvent, JobEventOf, JobFailureCode, JobKind } from "../../contracts/index.ts";
import type { ArtifactCache, ArtifactStore } from "../artifacts/index.ts";
import type { DeviceChoice } from "../device/index.ts";
import type { WorkerPool } from "../worker/index.ts";

export interface RunnerLogger {
  info(message: string): void;
  warn(message: string): void;
}

export interface JobContext<K extends JobKind = JobKind> {
  readonly envelope: JobEnvelopeOf<K>;
  /** JetStream delivery count (1 on the first attempt). */
  readonly attempt: number;
  readonly runnerId: string;
  readonly device: DeviceChoice;
  readonly pool: WorkerPool;
  readonly artifacts: ArtifactStore;
  readonly cache: ArtifactCache;
  /** Aborted when the job is cancelled or the runner shuts down; pass it to the engine. */
  readonly signal: AbortSignal;
  readonly log: RunnerLogger;
  /** Publishes the `started` event; call once, when inputs are ready (resumedFromStep from a checkpoint, else 0). */
  start(resumedFromStep: number): Promise<void>;
  /** Queues an event for publication (in call order); failures surface at the end of the job. */
  emit(event: JobEvent): void;
}

/** The `completed` event a handler produces (the runner adds `type` and `durationSeconds`). */
export type CompletedFields = Omit<JobEventOf<"completed">, "type" | "durationSeconds">;

export interface JobHandler<K extends JobKind = JobKind> {
  readonly kind: K;
  run(context: JobContext<K>): Promise<CompletedFields>;
}

/**
 * A failure the handler understood: `code` and `reason` go to the user as they are (the reason says what to
 * change); `retryable` decides between a redelivery and an immediate FAILED.
 */
export class JobFailureError extends Error {
  override readonly name = "JobFailureError";
  constructor(
    readonly code: JobFailureCode,
    readonly reason: string,
    readonly retryable: boolean,
    options?: ErrorOptions,
  ) {
    super(`${code}: ${reason}`, options);
  }
}
