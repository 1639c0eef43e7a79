/** @module api/openai/event-stream
 *
 * Server-sent events as OpenAI streams them: `data: <json>\n\n` per chunk, then `data: [DONE]\n\n`. Headers go out
 * at once (so a client sees its request accepted while the job is still queued) and a `: keep-alive` comment every
 * `keepAliveMs` keeps proxies from closing an idle stream. Writes after the client went away are dropped.
 */
import type { Response } from "express";

export interface EventStream {
  send(data: unknown): void;
  /** Writes `data: [DONE]` and ends the response. */
  close(): void;
}

/** Starts the event stream on `res`. */
export function openEventStream(res: Response, keepAliveMs = 15_000): EventStream {
  res.status(200);
  res.setHeader("content-type", "text/event-stream; charset=utf-8");
  res.setHeader("cache-control", "no-cache");
  res.setHeader("connection", "keep-alive");
  res.setHeader("x-accel-buffering", "no");
  res.flushHeaders();
  const writable = () => !res.writableEnded && !res.destroyed;
  const timer = setInterval(() => {
    if (writable()) res.write(": keep-alive\n\n");
  }, keepAliveMs);
  timer.unref();
  res.once("close", () => clearInterval(timer));
  return {
    send(data) {
      if (writable()) res.write(`data: ${JSON.stringify(data)}\n\n`);
    },
    close() {
      clearInterval(timer);
      if (writable()) res.end("data: [DONE]\n\n");
    },
  };
}
