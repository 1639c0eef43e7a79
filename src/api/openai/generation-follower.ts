/** @module api/openai/generation-follower
 *
 * Following one Generation from an HTTP request: `followGeneration` yields its tokens (stored ones first, then live
 * ones from the `generation:<id>` topic; `replayThenLive`, so none is lost or repeated) and ends when the job ends:
 * normally when it SUCCEEDED, else by throwing GenerationEndedError (FAILED / CANCELLED, with the job's `error`).
 * `generationResult` then reads the outcome: the outputs the `completed` event stored on the Generation row (text,
 * tokenCount, finishReason per α) and the prompt's token count when the runner reported one (`metrics.promptTokens`
 * of the completed event; 0 otherwise). `nextOrAbort` races an iterator step against an AbortSignal.
 */
import { TERMINAL_JOB_STATUSES, type GenerationOutput, type JobStatus } from "../../contracts/index.ts";
import type { TenantDb } from "../db/index.ts";
import { Topics, type ApiPubSub } from "../pubsub/index.ts";
import type { GenerationRow } from "../services/generations.ts";
import type { GenerationTokenMessage, GenerationTopicMessage } from "../services/job-events.ts";
import { replayThenLive } from "../services/streams.ts";

export interface FollowDeps {
  db: TenantDb;
  pubSub: ApiPubSub;
}

/** The generation's job ended without succeeding; `jobError` is the job's `<CODE>: <reason>`. */
export class GenerationEndedError extends Error {
  override readonly name = "GenerationEndedError";
  constructor(
    readonly status: Extract<JobStatus, "FAILED" | "CANCELLED">,
    readonly jobError: string | null,
  ) {
    super(`the generation ${status === "FAILED" ? "failed" : "was cancelled"}${jobError ? `: ${jobError}` : ""}`);
  }
}

async function jobOf(db: TenantDb, jobId: string) {
  return await db.job.findFirst({ where: { id: jobId }, select: { status: true, error: true } });
}

async function storedTokens(db: TenantDb, generation: GenerationRow): Promise<GenerationTokenMessage[]> {
  const events = await db.jobEvent.findMany({ where: { jobId: generation.jobId, type: "token" }, orderBy: { seq: "asc" } });
  return events.map((e) => {
    const p = e.payload as { outputIndex: number; position: number; tokenId: number; text: string };
    return { generationId: generation.id, seq: e.seq, outputIndex: p.outputIndex, position: p.position, tokenId: p.tokenId, text: p.text };
  });
}

/** The generation's tokens until its job ends (see the module contract). */
export function followGeneration(deps: FollowDeps, generation: GenerationRow): AsyncGenerator<GenerationTokenMessage> {
  return replayThenLive<GenerationTokenMessage, GenerationTopicMessage>({
    pubSub: deps.pubSub,
    topic: Topics.generation(generation.id),
    loadStored: () => storedTokens(deps.db, generation),
    isFinished: async () => {
      const job = await jobOf(deps.db, generation.jobId);
      return job === null || TERMINAL_JOB_STATUSES.includes(job.status as JobStatus);
    },
    endError: async () => {
      const job = await jobOf(deps.db, generation.jobId);
      return job?.status === "FAILED" || job?.status === "CANCELLED" ? new GenerationEndedError(job.status, job.error) : null;
    },
    fromMessage: (message) => (message.kind === "end" ? { kind: "end" } : { kind: "item", item: message.token }),
    keyOf: (token) => token.seq,
  });
}

export interface GenerationResult {
  /** One per α and sample, α-major, in request order. */
  outputs: GenerationOutput[];
  promptTokens: number;
}

/** The stored outcome of a generation whose job SUCCEEDED; null when its outputs are missing. */
export async function generationResult(db: TenantDb, generation: GenerationRow): Promise<GenerationResult | null> {
  const row = await db.generation.findFirst({ where: { id: generation.id }, select: { outputs: true } });
  const outputs = row?.outputs as GenerationOutput[] | null | undefined;
  if (!Array.isArray(outputs)) return null;
  const completed = await db.jobEvent.findFirst({ where: { jobId: generation.jobId, type: "completed" }, orderBy: { seq: "desc" } });
  const promptTokens = (completed?.payload as { metrics?: Record<string, unknown> } | undefined)?.metrics?.promptTokens;
  return { outputs, promptTokens: typeof promptTokens === "number" && Number.isInteger(promptTokens) && promptTokens >= 0 ? promptTokens : 0 };
}

export const ABORTED: unique symbol = Symbol("aborted");

/** `iterator.next()`, or ABORTED as soon as `signal` aborts (the step keeps running; its result is dropped). */
export async function nextOrAbort<T>(iterator: AsyncIterator<T>, signal: AbortSignal): Promise<IteratorResult<T> | typeof ABORTED> {
  if (signal.aborted) return ABORTED;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<typeof ABORTED>((resolve) => {
    onAbort = () => resolve(ABORTED);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  const step = iterator.next();
  step.catch(() => undefined); // a step that rejects after an abort is nobody's to handle
  try {
    return await Promise.race([step, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort!);
  }
}
