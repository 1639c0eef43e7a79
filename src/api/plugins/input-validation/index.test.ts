import "reflect-metadata";
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  GraphQLError,
  GraphQLInputObjectType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
  GraphQLUnionType,
  graphql,
  parse,
  subscribe,
} from "graphql";
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

test("a U+0000 in any argument string is refused before resolving: ValidationError as data, else BAD_USER_INPUT naming the path", async () => {
  const resolved: string[] = [];
  const Ok = new GraphQLObjectType({ name: "Ok", fields: { ok: { type: GraphQLString } }, isTypeOf: (v) => "ok" in (v as object) });
  const VError = new GraphQLObjectType({
    name: "ValidationError",
    fields: { field: { type: GraphQLString }, message: { type: GraphQLString } },
    isTypeOf: (v) => v instanceof ValidationError,
  });
  const Input = new GraphQLInputObjectType({ name: "In", fields: { name: { type: GraphQLString }, stop: { type: new GraphQLList(GraphQLString) } } });
  const ok = (name: string) => () => {
    resolved.push(name);
    return { ok: "yes" };
  };
  const Item = new GraphQLObjectType({ name: "Item", fields: { label: { type: GraphQLString, args: { locale: { type: GraphQLString } }, resolve: (_s, a) => `label ${a.locale}` } } });
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({
      name: "Query",
      fields: { item: { type: Item, args: { id: { type: GraphQLString } }, resolve: () => ({}) } },
    }),
    mutation: new GraphQLObjectType({
      name: "Mutation",
      fields: {
        create: { type: new GraphQLNonNull(new GraphQLUnionType({ name: "Payload", types: [Ok, VError] })), args: { input: { type: Input } }, resolve: ok("create") },
        plain: { type: Ok, args: { input: { type: Input } }, resolve: ok("plain") },
      },
    }),
    subscription: new GraphQLObjectType({
      name: "Subscription",
      fields: {
        ticks: {
          type: GraphQLString,
          args: { topic: { type: GraphQLString } },
          subscribe: async function* () {
            yield { ticks: "t" };
          },
        },
      },
    }),
  });
  returnValidationErrorsAsData(schema);
  const run = (source: string, variables: Record<string, unknown>, auth = "tenant") =>
    graphql({ schema, source, variableValues: variables, contextValue: { auth: { kind: auth } } });
  const create = `mutation($input: In) { create(input: $input) { ... on ValidationError { field message } ... on Ok { ok } } }`;

  const asData = await run(create, { input: { name: "fine", stop: ["a", "b\u0000"] } });
  assert.deepEqual(JSON.parse(JSON.stringify(asData.data)), {
    create: { field: "input.stop[1]", message: "input.stop[1]: must not contain the NUL character (U+0000)" },
  });
  assert.equal((await run(create, { input: { name: "\u0000" } }, "anonymous")).errors?.[0]?.extensions.code, "UNAUTHENTICATED");
  assert.deepEqual(JSON.parse(JSON.stringify((await run(create, { input: { name: "fine" } })).data)), { create: { ok: "yes" } });

  const plain = await run(`mutation($input: In) { plain(input: $input) { ok } }`, { input: { name: "x\u0000" } });
  assert.equal(plain.errors?.[0]?.extensions.code, "BAD_USER_INPUT");
  assert.equal(plain.errors?.[0]?.extensions.argument, "input.name");
  const literal = await run(`{ item(id: "a\\u0000b") { label(locale: "en") } }`, {});
  assert.equal(literal.errors?.[0]?.extensions.argument, "id");
  const nested = await run(`query($l: String) { item(id: "a") { label(locale: $l) } }`, { l: "\u0000" });
  assert.deepEqual([nested.errors?.[0]?.extensions.argument, nested.errors?.[0]?.path], ["locale", ["item", "label"]]);
  assert.deepEqual(resolved, ["create"], "no resolver ran with a NUL");

  const sub = await subscribe({ schema, document: parse(`subscription { ticks(topic: "\\u0000") }`), contextValue: { auth: { kind: "tenant" } } });
  assert.equal((sub as { errors?: readonly GraphQLError[] }).errors?.[0]?.extensions.argument, "topic");
});
