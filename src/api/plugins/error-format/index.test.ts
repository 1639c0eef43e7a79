import { test } from "node:test";
import assert from "node:assert/strict";
import { GraphQLError, locatedError, parse } from "graphql";
import { ForbiddenError } from "../../errors/index.ts";
import type { Logger } from "../../server/logger.ts";
import { InvalidGlobalIdError } from "../../../schema/common/index.ts";
import { createErrorFormatter, formatForClient } from "./index.ts";

function recordingLogger() {
  const entries: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const log: Logger = {
    debug: (message, fields) => entries.push({ level: "debug", message, fields }),
    info: (message, fields) => entries.push({ level: "info", message, fields }),
    warn: (message, fields) => entries.push({ level: "warn", message, fields }),
    error: (message, fields) => entries.push({ level: "error", message, fields }),
  };
  return { log, entries };
}

const fieldNode = parse(`{ a }`).definitions[0]!;

test("a bug thrown in a resolver is masked as INTERNAL_SERVER_ERROR and logged with its cause", () => {
  const { log, entries } = recordingLogger();
  const format = createErrorFormatter(log);
  const located = locatedError(new Error("db password is hunter2"), [fieldNode], ["a"]);
  const out = format({ message: located.message, path: ["a"], extensions: { code: "INTERNAL_SERVER_ERROR" } }, located);
  assert.equal(out.message, "internal server error");
  assert.equal(out.extensions?.code, "INTERNAL_SERVER_ERROR");
  assert.deepEqual(out.path, ["a"]);
  assert.doesNotMatch(JSON.stringify(out), /hunter2/);
  assert.equal(entries.length, 1);
  assert.equal(entries[0]!.level, "error");
  assert.match(String((entries[0]!.fields!.error as Error).message), /hunter2/);
});

test("known input errors become BAD_USER_INPUT; coded errors pass; no http extension leaks", () => {
  const { log, entries } = recordingLogger();
  const format = createErrorFormatter(log);
  const bad = locatedError(new InvalidGlobalIdError("zz", "not a base64 global id"), [fieldNode], ["node"]);
  const out = format({ message: bad.message, path: ["node"], extensions: { code: "INTERNAL_SERVER_ERROR" } }, bad);
  assert.equal(out.extensions?.code, "BAD_USER_INPUT");
  assert.match(out.message, /invalid id "zz"/);
  const forbidden = locatedError(new ForbiddenError("no"), [fieldNode], ["a"]);
  const out2 = format({ message: "no", path: ["a"], extensions: { ...forbidden.extensions } }, forbidden);
  assert.equal(out2.extensions?.code, "FORBIDDEN");
  assert.equal(out2.extensions?.http, undefined);
  assert.equal(entries.length, 0);
});

test("limit violations get their own codes", () => {
  const format = createErrorFormatter(recordingLogger().log);
  const deep = format({ message: "Query depth limit of 3 exceeded, found 4.", extensions: { code: "GRAPHQL_VALIDATION_FAILED", limitCode: "QUERY_TOO_DEEP" } }, null);
  assert.deepEqual(deep.extensions, { code: "QUERY_TOO_DEEP" });
  const tokens = format({ message: "Syntax Error: Document contains more that 10 tokens. Parsing aborted.", extensions: { code: "GRAPHQL_PARSE_FAILED" } }, null);
  assert.equal(tokens.extensions?.code, "QUERY_TOO_LARGE");
  const recursive = format(
    { message: "Anonymous operation recursively requests too many selections.", extensions: { code: "GRAPHQL_VALIDATION_FAILED", validationErrorCode: "MAX_RECURSIVE_SELECTIONS_EXCEEDED" } },
    null,
  );
  assert.equal(recursive.extensions?.code, "QUERY_TOO_LARGE");
  const plain = format({ message: "Cannot query field", extensions: { code: "GRAPHQL_VALIDATION_FAILED" } }, new GraphQLError("Cannot query field"));
  assert.equal(plain.extensions?.code, "GRAPHQL_VALIDATION_FAILED");
});

test("argument validation errors are summarised with field details, without the rejected object", () => {
  const format = createErrorFormatter(recordingLogger().log);
  const thrown = new GraphQLError("Argument Validation Error", {
    extensions: {
      code: "BAD_USER_INPUT",
      validationErrors: [{ property: "first", value: 500, target: { secret: "s3cr3t" }, constraints: { max: "first must not be greater than 100" } }],
    },
  });
  const out = formatForClient(format, locatedError(thrown, [fieldNode], ["tenants"]));
  assert.equal(out.extensions?.code, "BAD_USER_INPUT");
  assert.match(out.message, /first must not be greater than 100/);
  assert.doesNotMatch(JSON.stringify(out), /s3cr3t/);
});
