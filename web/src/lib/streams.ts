/** @module web/lib/streams
 *  The console's live streams as React state: a job's events (`jobEvents`), a generation's tokens
 *  (`generationTokens`) and an evaluation's Pareto points (`evaluationPoints`). Each resumes after a dropped socket
 *  (subscriptions.ts) and drops what it has already seen — events at or below the last `seq`, tokens at or below
 *  each output's last position, points already held by grid index — so a replay never duplicates. Event and token
 *  updates are batched per animation frame, so a long replay or six columns at full runner speed cost one render
 *  per frame. */
import { useEffect, useRef, useState } from "react";
import type { JobEvent as RunnerEvent } from "../../../src/contracts/events.ts";
import { graphql } from "../gql/index.ts";
import type { TopLevelError } from "./graphql.ts";
import { subscribeResumable } from "./subscriptions.ts";

export type { RunnerEvent };

/** How a stream stands: `live` while subscribed; `done` once it completed; `failed` with the server's reason. */
export interface StreamStatus {
  state: "idle" | "live" | "done" | "failed";
  /** JOB_FAILED / JOB_CANCELLED / BAD_USER_INPUT … when failed. */
  code: string | null;
  reason: string | null;
}

const IDLE: StreamStatus = { state: "idle", code: null, reason: null };

function failed(error: TopLevelError): StreamStatus {
  return { state: "failed", code: error.code, reason: error.message };
}

const JobEventsSubscription = graphql(`
  subscription JobEventsStream($jobId: ID!, $afterSeq: Float) {
    jobEvents(jobId: $jobId, afterSeq: $afterSeq) {
      seq
      type
      payload
      createdAt
    }
  }
`);

export interface StreamedJobEvent {
  seq: number;
  type: string;
  event: RunnerEvent;
  createdAt: string;
  /** When the console received it (ms since the epoch). */
  receivedAt: number;
}

export function useJobEvents(jobId: string | null): { events: StreamedJobEvent[]; status: StreamStatus } {
  const [events, setEvents] = useState<StreamedJobEvent[]>([]);
  const [status, setStatus] = useState<StreamStatus>(IDLE);
  const lastSeq = useRef(0);
  useEffect(() => {
    setEvents([]);
    lastSeq.current = 0;
    if (!jobId) {
      setStatus(IDLE);
      return;
    }
    setStatus({ state: "live", code: null, reason: null });
    // A replay of thousands of stored events arrives in a burst: append them once per animation frame.
    let pending: StreamedJobEvent[] = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      if (pending.length === 0) return;
      const batch = pending;
      pending = [];
      setEvents((list) => list.concat(batch));
    };
    const unsubscribe = subscribeResumable(JobEventsSubscription, () => ({ jobId, afterSeq: lastSeq.current }), {
      next: ({ jobEvents: e }) => {
        if (e.seq <= lastSeq.current) return;
        lastSeq.current = e.seq;
        pending.push({ seq: e.seq, type: e.type, event: e.payload as RunnerEvent, createdAt: e.createdAt, receivedAt: Date.now() });
        if (frame === 0) frame = requestAnimationFrame(flush);
      },
      error: (error) => {
        flush();
        setStatus(failed(error));
      },
      complete: () => {
        flush();
        setStatus({ state: "done", code: null, reason: null });
      },
    });
    return () => {
      if (frame) cancelAnimationFrame(frame);
      unsubscribe();
    };
  }, [jobId]);
  return { events, status };
}

const GenerationTokensSubscription = graphql(`
  subscription GenerationTokensStream($generationId: ID!) {
    generationTokens(generationId: $generationId) {
      outputIndex
      position
      text
    }
  }
`);

export interface StreamedOutput {
  text: string;
  tokens: number;
  /** ms since the epoch of the first and the latest token. */
  firstAt: number | null;
  lastAt: number | null;
}

/** Tokens of one generation, per output (α) index. `startedAt` (ms) is when the request was sent, for TTFT. */
export function useGenerationTokens(generationId: string | null, outputs: number): { outputs: StreamedOutput[]; status: StreamStatus } {
  const [state, setState] = useState<StreamedOutput[]>([]);
  const [status, setStatus] = useState<StreamStatus>(IDLE);
  const buffer = useRef<StreamedOutput[]>([]);
  useEffect(() => {
    const fresh = Array.from({ length: outputs }, (): StreamedOutput => ({ text: "", tokens: 0, firstAt: null, lastAt: null }));
    buffer.current = fresh;
    setState(fresh.map((o) => ({ ...o })));
    if (!generationId) {
      setStatus(IDLE);
      return;
    }
    setStatus({ state: "live", code: null, reason: null });
    let frame = 0;
    const flush = () => {
      frame = 0;
      setState(buffer.current.map((o) => ({ ...o })));
    };
    const schedule = () => {
      if (frame === 0) frame = requestAnimationFrame(flush);
    };
    const unsubscribe = subscribeResumable(GenerationTokensSubscription, () => ({ generationId }), {
      next: ({ generationTokens: t }) => {
        const out = (buffer.current[t.outputIndex] ??= { text: "", tokens: 0, firstAt: null, lastAt: null });
        if (t.position < out.tokens) return; // replayed after a reconnect
        const now = Date.now();
        out.text += t.text;
        out.tokens = t.position + 1;
        out.firstAt ??= now;
        out.lastAt = now;
        schedule();
      },
      error: (error) => {
        flush();
        setStatus(failed(error));
      },
      complete: () => {
        flush();
        setStatus({ state: "done", code: null, reason: null });
      },
    });
    return () => {
      if (frame) cancelAnimationFrame(frame);
      unsubscribe();
    };
  }, [generationId, outputs]);
  return { outputs: state, status };
}

const EvaluationPointsSubscription = graphql(`
  subscription EvaluationPointsStream($evaluationId: ID!, $afterIndex: Int) {
    evaluationPoints(evaluationId: $evaluationId, afterIndex: $afterIndex) {
      index
      alpha
      rewards
    }
  }
`);

export interface StreamedPoint {
  index: number;
  alpha: number[];
  rewards: number[];
}

export function useEvaluationPoints(evaluationId: string | null): { points: StreamedPoint[]; status: StreamStatus } {
  const [points, setPoints] = useState<StreamedPoint[]>([]);
  const [status, setStatus] = useState<StreamStatus>(IDLE);
  const lastIndex = useRef(-1);
  useEffect(() => {
    setPoints([]);
    lastIndex.current = -1;
    if (!evaluationId) {
      setStatus(IDLE);
      return;
    }
    setStatus({ state: "live", code: null, reason: null });
    return subscribeResumable(EvaluationPointsSubscription, () => ({ evaluationId, afterIndex: lastIndex.current }), {
      next: ({ evaluationPoints: p }) => {
        if (p.index <= lastIndex.current) return;
        lastIndex.current = p.index;
        setPoints((list) => [...list, { index: p.index, alpha: [...p.alpha], rewards: [...p.rewards] }]);
      },
      error: (error) => setStatus(failed(error)),
      complete: () => setStatus({ state: "done", code: null, reason: null }),
    });
  }, [evaluationId]);
  return { points, status };
}
