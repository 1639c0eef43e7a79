import { test } from "node:test";
import assert from "node:assert/strict";
import { buildSchema, getIntrospectionQuery, parse, specifiedRules, validate } from "graphql";
import { DEFAULT_LIMITS } from "../../config.ts";
import { TOKEN_LIMIT_MESSAGE, createQueryLimits } from "./index.ts";

const schema = buildSchema(`
  type Node { id: ID! name: String child: Node children: [Node!]! }
  type Query { node: Node nodes: [Node!]! }
`);

function check(source: string, limits: Partial<typeof DEFAULT_LIMITS>) {
  const { validationRules } = createQueryLimits({ ...DEFAULT_LIMITS, ...limits });
  return validate(schema, parse(source), [...specifiedRules, ...validationRules]);
}

test("depth beyond maxDepth reports QUERY_TOO_DEEP with limit and depth; at the limit passes", () => {
  assert.deepEqual(check(`{ node { child { child { id } } } }`, { maxDepth: 4 }), []);
  const errors = check(`{ node { child { child { child { id } } } } }`, { maxDepth: 4 });
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.extensions.limitCode, "QUERY_TOO_DEEP");
  assert.match(errors[0]!.message, /^Query depth limit of 4 exceeded, found 5\.$/);
});

test("cost beyond maxCost reports QUERY_TOO_COMPLEX", () => {
  const wide = `{ nodes { id name child { id name child { id name } } children { id name children { id name } } } }`;
  assert.deepEqual(check(wide, { maxCost: 10_000 }), []);
  const errors = check(wide, { maxCost: 20 });
  assert.equal(errors[0]!.extensions.limitCode, "QUERY_TOO_COMPLEX");
  assert.match(errors[0]!.message, /Cost limit of 20 exceeded/);
});

test("aliases beyond maxAliases report QUERY_TOO_LARGE", () => {
  const errors = check(`{ a: node { id } b: node { id } c: node { id } }`, { maxAliases: 2 });
  assert.equal(errors[0]!.extensions.limitCode, "QUERY_TOO_LARGE");
});

test("the depth limit counts introspection selections too", () => {
  assert.deepEqual(check(`{ __schema { types { fields { name } } } }`, { maxDepth: 4 }), []);
  const errors = check(`{ __schema { types { fields { type { fields { type { name } } } } } } }`, { maxDepth: 4 });
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.extensions.limitCode, "QUERY_TOO_DEEP");
  assert.match(errors[0]!.message, /^Query depth limit of 4 exceeded, found 7\.$/);
  // graphql-js's full introspection query (what GraphiQL, Sandbox and codegen send) counts 21 levels.
  assert.deepEqual(check(getIntrospectionQuery(), { maxDepth: 21, maxCost: 10 }), []);
  assert.match(check(getIntrospectionQuery(), { maxDepth: 20 })[0]!.message, /found 21/);
});

test("introspection is refused only when disabled", () => {
  assert.deepEqual(check(`{ __schema { queryType { name } } }`, { introspection: true }), []);
  const errors = check(`{ __schema { queryType { name } } }`, { introspection: false });
  assert.match(errors[0]!.message, /introspection/i);
});

test("the parser enforces maxTokens with a message TOKEN_LIMIT_MESSAGE recognises", () => {
  const { parseOptions } = createQueryLimits({ ...DEFAULT_LIMITS, maxTokens: 100 });
  assert.equal(parseOptions.maxTokens, 100);
  parse(`{ node { ${"id ".repeat(40)} } }`, parseOptions);
  assert.throws(() => parse(`{ node { ${"id ".repeat(200)} } }`, parseOptions), (e: Error) => TOKEN_LIMIT_MESSAGE.test(e.message));
});
