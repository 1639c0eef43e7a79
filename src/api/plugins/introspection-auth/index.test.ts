import { test } from "node:test";
import assert from "node:assert/strict";
import { getIntrospectionQuery, parse } from "graphql";
import { usesIntrospection } from "./index.ts";

test("usesIntrospection finds __schema and __type anywhere, fragments included; __typename is not introspection", () => {
  assert.equal(usesIntrospection(parse(getIntrospectionQuery())), true);
  assert.equal(usesIntrospection(parse(`{ __type(name: "Tenant") { name } }`)), true);
  assert.equal(usesIntrospection(parse(`query { ...F } fragment F on Query { viewer { kind } __schema { queryType { name } } }`)), true);
  assert.equal(usesIntrospection(parse(`{ viewer { __typename kind } }`)), false);
});
