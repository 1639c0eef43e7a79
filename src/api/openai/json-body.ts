/** @module api/openai/json-body
 *
 * Reads a route's JSON body (plain HTTP routes get no body parser, server/http-routes.ts) within the server's JSON
 * body limit (`PARM_BODY_LIMIT_BYTES`), whatever its content type. A larger body is a 413, malformed JSON a 400, both
 * as OpenAiError; an empty body reads as `undefined`.
 */
import express, { type Request, type Response } from "express";
import { invalidRequest, OpenAiError } from "./openai-error.ts";

interface BodyParserError {
  type?: string;
}

/** The parsed body of `req` (see the module contract). */
export async function readJsonBody(req: Request, res: Response, limitBytes: number): Promise<unknown> {
  const parse = express.json({ limit: limitBytes, strict: false, type: () => true });
  await new Promise<void>((resolve, reject) => {
    parse(req, res, (error?: unknown) => (error ? reject(bodyError(error as BodyParserError, limitBytes)) : resolve()));
  });
  return (req as { body?: unknown }).body;
}

function bodyError(error: BodyParserError, limitBytes: number): unknown {
  if (error?.type === "entity.too.large") {
    return new OpenAiError(413, "invalid_request_error", `request body too large: the limit is ${limitBytes} bytes`, null, "request_too_large");
  }
  if (error?.type === "entity.parse.failed") return invalidRequest(null, "We could not parse the JSON body of your request.");
  return error;
}
