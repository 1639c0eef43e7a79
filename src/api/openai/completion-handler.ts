/** @module api/openai/completion-handler
 *
 * `POST /v1/completions` and `POST /v1/chat/completions`: one request = one Generation (a GENERATE job through the
 * `generate` service, visible in GraphQL), spending one token of the tenant's mutation rate limit and counting
 * against its concurrent-job quota and per-job work limits like the `generate` mutation.
 * - `stream: true`: server-sent events (event-stream.ts) from the moment the job is queued; one chunk per generated
 *   token (copied to the `n` choices of its α), then per choice a final chunk with `finish_reason`, with
 *   `stream_options.include_usage` a last chunk with `choices: []` and `usage`, then `data: [DONE]`. A failure after
 *   the stream started is sent as a `data: {"error": …}` event.
 * - otherwise: the answer waits for the job's end, at most `completionTimeoutMs` (read per request); past it the job
 *   is cancelled and the answer is 504 `timeout_error` (`x-should-retry: false`).
 * - A client that disconnects before its answer is complete cancels the job (`cancelJob`: a QUEUED job becomes
 *   CANCELLED at once, a RUNNING one gets `cancelRequested` and its runner stops it).
 * - A job that ends FAILED answers 400 for the request's own fault (`INVALID_PAYLOAD`; a prompt that does not fit the
 *   context: `context_length_exceeded` on `prompt` / `messages`), else 500 with the job's reason; CANCELLED (e.g. by
 *   `cancelJob` in GraphQL) answers 409 `generation_cancelled`.
 * Errors are OpenAI-shaped (openai-error.ts).
 */
import type { Request, Response } from "express";
import type { HttpRouteDeps } from "../server/http-routes.ts";
import { serviceDeps } from "../services/context.ts";
import type { TenantServiceDeps } from "../services/deps.ts";
import { JobNotCancellableError } from "../services/errors.ts";
import { generate, type GenerationRow } from "../services/generations.ts";
import { cancelJob } from "../services/jobs.ts";
import type { Logger } from "../server/logger.ts";
import { chunkObject, choiceIndexes, completionObject, usageOf, type ChunkChoice } from "./completion-responses.ts";
import { openEventStream, type EventStream } from "./event-stream.ts";
import { ABORTED, followGeneration, generationResult, GenerationEndedError, nextOrAbort, type FollowDeps, type GenerationResult } from "./generation-follower.ts";
import { planGeneration, type CompletionKind, type GenerationPlan } from "./generation-plan.ts";
import { readJsonBody } from "./json-body.ts";
import { internalError, invalidRequest, OpenAiError, sendOpenAiError, toOpenAiError, type ParamOf } from "./openai-error.ts";

export interface CompletionOptions {
  /** How long a non-streamed request waits for its job, in ms (read per request). */
  completionTimeoutMs(): number;
}

/** One started generation being answered. */
interface Session {
  plan: GenerationPlan;
  generation: GenerationRow;
  follow: FollowDeps;
  res: Response;
}

/** Cancels the job when `signal` aborts (a finished job is left alone). Returns the detach function. */
function cancelOnAbort(services: TenantServiceDeps, jobId: string, signal: AbortSignal, log: Logger): () => void {
  const cancel = () => {
    cancelJob(services, jobId).catch((error: unknown) => {
      if (!(error instanceof JobNotCancellableError)) log.warn("could not cancel an abandoned generation", { jobId, error: error instanceof Error ? error.message : String(error) });
    });
  };
  if (signal.aborted) cancel();
  else signal.addEventListener("abort", cancel, { once: true });
  return () => signal.removeEventListener("abort", cancel);
}

/** The OpenAiError a generation that ended without succeeding answers with. */
function endedError(error: GenerationEndedError, paramOf: ParamOf): OpenAiError {
  const reason = error.jobError ?? "";
  if (error.status === "CANCELLED") return new OpenAiError(409, "invalid_request_error", error.message, null, "generation_cancelled", null, false);
  if (reason.startsWith("INVALID_PAYLOAD:")) {
    const tooLong = reason.includes("PROMPT_TOO_LONG");
    return invalidRequest(tooLong ? paramOf("input.prompt") : null, reason.replace(/^INVALID_PAYLOAD:\s*/, ""), tooLong ? "context_length_exceeded" : null);
  }
  return new OpenAiError(500, "server_error", error.message, null, "generation_failed");
}

/** Follows the generation until its job ends, calling `onToken` per token; false when `signal` aborted first. */
async function followUntilEnd(s: Session, signal: AbortSignal, onToken: (outputIndex: number, text: string) => void): Promise<boolean> {
  const iterator = followGeneration(s.follow, s.generation);
  for (;;) {
    const step = await nextOrAbort(iterator, signal);
    if (step === ABORTED) {
      void iterator.return(undefined).catch(() => undefined);
      return false;
    }
    if (step.done) return true;
    onToken(step.value.outputIndex, step.value.text);
  }
}

async function resultOf(s: Session): Promise<GenerationResult> {
  const result = await generationResult(s.follow.db, s.generation);
  const expected = s.plan.vectors.length * (s.plan.command.samplesPerAlpha ?? 1);
  if (!result || result.outputs.length !== expected) throw new Error(`generation ${s.generation.id} succeeded without its ${expected} outputs`);
  return result;
}

/** Streams the tokens, the final chunks and the usage; stops silently when the client went away. */
async function streamAnswer(s: Session, stream: EventStream, signal: AbortSignal): Promise<void> {
  const started = new Set<number>();
  const chat = s.plan.kind === "chat";
  const finished = await followUntilEnd(s, signal, (outputIndex, text) => {
    if (text.length === 0) return;
    const choices: ChunkChoice[] = choiceIndexes(s.plan, outputIndex).map((index) => ({ index, outputIndex, text, role: chat && !started.has(index) }));
    choices.forEach((c) => started.add(c.index));
    stream.send(chunkObject(s.plan, s.generation, choices));
  });
  if (!finished) return;
  const result = await resultOf(s);
  const finals = result.outputs.flatMap((output, v) =>
    choiceIndexes(s.plan, v).map((index) => ({ index, outputIndex: v, role: chat && !started.has(index), finishReason: output.finishReason })),
  );
  stream.send(chunkObject(s.plan, s.generation, finals));
  if (s.plan.includeUsage) stream.send(chunkObject(s.plan, s.generation, [], usageOf(s.plan, result)));
  stream.close();
}

/** Waits for the job's end until `signal` (closed or timed out) aborts, then answers the whole completion. */
async function wholeAnswer(s: Session, signal: AbortSignal, closed: AbortSignal, timeoutMs: number): Promise<void> {
  if (!(await followUntilEnd(s, signal, () => undefined))) {
    if (closed.aborted) return;
    throw new OpenAiError(504, "timeout_error", `the generation did not finish within ${timeoutMs} ms and was cancelled`, null, "generation_timeout", null, false);
  }
  s.res.status(200).json(completionObject(s.plan, s.generation, await resultOf(s)));
}

function answerError(res: Response, stream: EventStream | null, deps: HttpRouteDeps, error: unknown, paramOf: ParamOf): void {
  const mapped = error instanceof GenerationEndedError ? endedError(error, paramOf) : toOpenAiError(error, paramOf);
  if (!mapped) deps.log.error("openai completion failed", { error: error instanceof Error ? error.message : String(error) });
  const answer = mapped ?? internalError();
  if (stream) {
    stream.send(answer.body());
    stream.close();
  } else if (!res.headersSent) {
    sendOpenAiError(res, answer);
  }
}

/** Answers one completion request (see the module contract). */
export async function handleCompletion(kind: CompletionKind, req: Request, res: Response, deps: HttpRouteDeps, options: CompletionOptions): Promise<void> {
  const closed = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) closed.abort();
  });
  let paramOf: ParamOf = () => null;
  let stream: EventStream | null = null;
  let detach = () => undefined as void;
  try {
    const body = await readJsonBody(req, res, deps.limits.bodyLimitBytes);
    const ctx = await deps.contextFor(req);
    const services = serviceDeps(ctx);
    deps.rateLimit(ctx);
    const plan = await planGeneration(services, kind, body);
    paramOf = plan.paramOf;
    const { generation } = await generate(services, plan.command);
    const session: Session = { plan, generation, follow: { db: services.db, pubSub: ctx.pubSub }, res };
    if (plan.stream) {
      detach = cancelOnAbort(services, generation.jobId, closed.signal, ctx.log);
      stream = openEventStream(res);
      await streamAnswer(session, stream, closed.signal);
    } else {
      const timeoutMs = options.completionTimeoutMs();
      const signal = AbortSignal.any([closed.signal, AbortSignal.timeout(timeoutMs)]);
      detach = cancelOnAbort(services, generation.jobId, signal, ctx.log);
      await wholeAnswer(session, signal, closed.signal, timeoutMs);
    }
  } catch (error) {
    answerError(res, stream, deps, error, paramOf);
  } finally {
    detach();
  }
}
