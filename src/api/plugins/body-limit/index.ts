/** @module api/plugins/body-limit
 *  JSON body parsing for /graphql with a size limit. A larger body is answered 413 with a GraphQL-shaped error
 *  (code PAYLOAD_TOO_LARGE) naming the limit; malformed JSON is 400 (BAD_REQUEST). */
import express, { type ErrorRequestHandler, type RequestHandler } from "express";
import { ErrorCode } from "../../errors/index.ts";

export function jsonBodyParser(limitBytes: number): RequestHandler {
  return express.json({ limit: limitBytes, strict: true, type: ["application/json", "application/graphql-response+json"] });
}

interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
  length?: number;
}

/** Error handler translating body-parser failures into JSON responses; other errors pass on. */
export function bodyErrorHandler(limitBytes: number): ErrorRequestHandler {
  return (error: BodyParserError, _req, res, next) => {
    if (error?.type === "entity.too.large") {
      res.status(413).json({
        errors: [
          {
            message: `request body too large: the limit is ${limitBytes} bytes${error.length ? `, got ${error.length}` : ""}`,
            extensions: { code: ErrorCode.PAYLOAD_TOO_LARGE, limitBytes },
          },
        ],
      });
      return;
    }
    if (error?.type === "entity.parse.failed") {
      res.status(400).json({ errors: [{ message: "request body is not valid JSON", extensions: { code: "BAD_REQUEST" } }] });
      return;
    }
    next(error);
  };
}
