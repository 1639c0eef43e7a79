/** @module api/http/route-errors
 *  How the domain's HTTP routes answer a failure: an expected one (a payload union member, services/payload-errors.ts)
 *  as `{ error: { type, message, …fields } }` with the status its type implies; anything else as the server's
 *  GraphQL-shaped error (`deps.sendError`: 401, 403, 429, 500 …). An unread request body is never drained: the
 *  connection is closed after the answer, so a refused upload is not read to its end. */
import type { Request, Response } from "express";
import type { ErrorInterface } from "../../schema/common/index.ts";
import type { HttpRouteDeps } from "../server/http-routes.ts";
import { ErrorCode } from "../errors/index.ts";
import { toPayloadError } from "../services/payload-errors.ts";

/** HTTP status of each expected failure type a route can answer with (others: 400). */
const STATUS_BY_TYPE: Readonly<Record<string, number>> = {
  DatasetValidationFailed: 422,
  ModelFileInvalid: 422,
  QuotaExceeded: 413,
  NotFoundError: 404,
};

/** The status of an expected failure. */
export function payloadErrorStatus(error: ErrorInterface): number {
  return STATUS_BY_TYPE[error.constructor.name] ?? 400;
}

function isAuthFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === ErrorCode.UNAUTHENTICATED || code === ErrorCode.FORBIDDEN || code === ErrorCode.RATE_LIMITED;
}

/** Answers `error` (see the module contract); `what` names the route in the log of an unexpected failure. */
export function sendRouteError(req: Request, res: Response, deps: HttpRouteDeps, error: unknown, what: string): void {
  if (!req.readableEnded) {
    res.setHeader("connection", "close");
    res.once("finish", () => req.destroy());
  }
  let payload: ErrorInterface;
  try {
    payload = toPayloadError(error);
  } catch (unexpected) {
    if (!isAuthFailure(unexpected)) deps.log.error(`${what} failed`, { error: unexpected instanceof Error ? unexpected.message : String(unexpected) });
    deps.sendError(res, unexpected);
    return;
  }
  res.status(payloadErrorStatus(payload)).json({ error: { type: payload.constructor.name, ...payload } });
}
