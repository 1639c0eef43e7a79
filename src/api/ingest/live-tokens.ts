/**
 * @module api/ingest/live-tokens — tokens reach `generation:<id>` subscribers as ingestion receives them, ahead of
 * their commit to PostgreSQL (which batches them, services/job-events.ts `ingestTokenEvents`).
 *
 * Contracts:
 * - Order: a job's tokens are published in stream order. A token is published at receipt only when its job's
 *   generation is known and none of the job's earlier tokens is still unpublished; otherwise it is published just
 *   before its run commits, after the earlier ones.
 * - No gap: each published token is held in `pubSub.pending` until its run committed (or ingestion gave up on it),
 *   and `replayThenLive` replays pending tokens with the stored ones.
 * - A job's generation is looked up once (when its first event is ingested) and forgotten at its terminal event.
 */
import type { JobEvent } from "../../contracts/index.ts";
import type { Database } from "../db/index.ts";
import { Topics, type ApiPubSub } from "../pubsub/index.ts";
import type { GenerationTokenMessage, GenerationTopicMessage } from "../services/job-events.ts";

export interface LiveToken {
  readonly jobId: string;
  readonly seq: number;
  readonly event: Extract<JobEvent, { type: "token" }>;
  /** Set once the token was published. */
  published?: boolean;
}

export interface LiveTokens {
  /** At receipt: publishes the token now when the order allows it (see the module comment). */
  received(token: LiveToken): void;
  /** Before a run of tokens commits: publishes those not yet published, in order. */
  publishRest(tokens: readonly LiveToken[]): Promise<void>;
  /** After the run committed (or was given up): releases the pending copies. */
  settle(tokens: readonly LiveToken[]): void;
  /** Before a job's other events are ingested: learns its generation; at its terminal event, forgets it. */
  jobEvent(jobId: string, type: JobEvent["type"]): Promise<void>;
}

export function createLiveTokens(db: Pick<Database, "system">, pubSub: ApiPubSub): LiveTokens {
  /** Job id → generation id (null: not a generation). */
  const generations = new Map<string, string | null>();
  /** Job id → its received tokens not yet published. */
  const unpublished = new Map<string, number>();

  const lookUp = async (jobId: string): Promise<string | null> => {
    let generationId = generations.get(jobId);
    if (generationId === undefined) {
      generationId = (await db.system.generation.findUnique({ where: { jobId }, select: { id: true } }))?.id ?? null;
      generations.set(jobId, generationId);
    }
    return generationId;
  };
  const publish = (generationId: string, token: LiveToken) => {
    const { outputIndex, position, tokenId, text } = token.event;
    const seq = BigInt(token.seq);
    const message: GenerationTopicMessage = { kind: "token", token: { generationId, seq, outputIndex, position, tokenId, text } satisfies GenerationTokenMessage };
    pubSub.pending.add(Topics.generation(generationId), seq, message);
    void pubSub.publish(Topics.generation(generationId), message);
    token.published = true;
  };

  return {
    received(token) {
      const generationId = generations.get(token.jobId);
      if (generationId && !unpublished.get(token.jobId)) publish(generationId, token);
      else unpublished.set(token.jobId, (unpublished.get(token.jobId) ?? 0) + 1);
    },
    async publishRest(tokens) {
      for (const token of tokens) {
        if (token.published) continue;
        const generationId = await lookUp(token.jobId);
        const left = (unpublished.get(token.jobId) ?? 1) - 1;
        if (left > 0) unpublished.set(token.jobId, left);
        else unpublished.delete(token.jobId);
        if (generationId) publish(generationId, token);
      }
    },
    settle(tokens) {
      for (const token of tokens) {
        const generationId = generations.get(token.jobId);
        if (token.published && generationId) pubSub.pending.settle(Topics.generation(generationId), [BigInt(token.seq)]);
      }
    },
    async jobEvent(jobId, type) {
      if (type === "completed" || type === "failed") {
        generations.delete(jobId);
        unpublished.delete(jobId);
      } else {
        await lookUp(jobId);
      }
    },
  };
}
