import "reflect-metadata";
import { test } from "node:test";
import assert from "node:assert/strict";
import { GraphQLError, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString, GraphQLUnionType, graphql } from "graphql";
import { ValidationError } from "../../../schema/common/index.ts";
import { returnValidationErrorsAsData, validationErrorFromArgumentError } from "./index.ts";

const argumentError = (validationErrors: unknown[]) =>
  new GraphQLError("Argument Validation Error", { extensions: { code: "BAD_USER_INPUT", validationErrors } });

test("the first failing (possibly nested) field becomes a ValidationError with its path and messages", () => {
  const error = argumentError([
    { property: "ok", children: [] },
    { property: "limits", children: [{ property: "rate", constraints: { min: "rate must not be less than 1", isInt: "rate must be an integer" } }] },
  ]);
  const v = validationErrorFromArgumentError(error, "input");
  assert.ok(v instanceof ValidationError);
  assert.equal(v.field, "input.limits.rate");
  assert.equal(v.message, "rate must not be less than 1; rate must be an integer");
  assert.equal(validationErrorFromArgumentError(new Error("other"), "input"), null);
});

test("only mutations with a ValidationError union member are wrapped; anonymous callers stay UNAUTHENTICATED", async () => {
  const Ok = new GraphQLObjectType({ name: "Ok", fields: { ok: { type: GraphQLString } }, isTypeOf: (v) => "ok" in (v as object) });
  const VError = new GraphQLObjectType({
    name: "ValidationError",
    fields: { field: { type: GraphQLString }, message: { type: GraphQLString } },
    isTypeOf: (v) => v instanceof ValidationError,
  });
  const Payload = new GraphQLUnionType({ name: "Payload", types: [Ok, VError] });
  const failing = () => {
    throw argumentError([{ property: "name", constraints: { length: "name is too long" } }]);
  };
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: "Query", fields: { x: { type: GraphQLString, resolve: failing } } }),
    mutation: new GraphQLObjectType({
      name: "Mutation",
      fields: {
        create: { type: new GraphQLNonNull(Payload), args: { input: { type: GraphQLString } }, resolve: failing },
        plain: { type: GraphQLString, resolve: failing },
      },
    }),
  });
  assert.equal(returnValidationErrorsAsData(schema), 1);
  const run = (source: string, auth: string) => graphql({ schema, source, contextValue: { auth: { kind: auth } } });
  const res = await run(`mutation { create(input: "x") { ... on ValidationError { field message } } }`, "tenant");
  assert.deepEqual(JSON.parse(JSON.stringify(res.data)), { create: { field: "input.name", message: "name is too long" } });
  const anon = await run(`mutation { create(input: "x") { __typename } }`, "anonymous");
  assert.equal(anon.errors?.[0]?.extensions.code, "UNAUTHENTICATED");
  const plain = await run(`mutation { plain }`, "tenant");
  assert.equal(plain.errors?.[0]?.message, "Argument Validation Error");
  const query = await run(`{ x }`, "tenant");
  assert.equal(query.errors?.[0]?.message, "Argument Validation Error");
});
