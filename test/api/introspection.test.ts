/** @module test/api/introspection — introspection with it enabled (development): anonymous callers are refused
 *  (401 UNAUTHENTICATED), API keys may introspect, and introspection counts against the depth limit on both
 *  transports. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { nextWithin } from "../helpers/graphql.ts";
import { startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";

const SHALLOW = `{ __schema { queryType { name } } }`;
// Deep through `ofType` (graphql-js's own MaxIntrospectionDepthRule bounds only fields/interfaces/possibleTypes/
// inputFields recursion, at 3): depth 8.
const DEEP = `{ __schema { types { ofType { ofType { ofType { ofType { ofType { name } } } } } } } }`;

describe("introspection (enabled, as in development)", () => {
  let api: TestApi;
  let acme: TestTenant;

  before(async () => {
    api = await startTestApi({ limits: { introspection: true, maxDepth: 6 } });
    acme = await api.createTenantWithKey("introspection-acme");
  });
  after(async () => {
    await api?.stop();
  });

  test("anonymous: __schema and __type are refused with 401 UNAUTHENTICATED; __typename is not introspection", async () => {
    for (const query of [SHALLOW, `{ __type(name: "Query") { name } }`, `query { ...F } fragment F on Query { __schema { queryType { name } } }`]) {
      const res = await api.gql(query);
      assert.equal(res.status, 401, query);
      assert.equal(res.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
      assert.match(res.errors![0]!.message, /introspection needs credentials/);
      assert.equal(res.data, undefined);
    }
    const typename = await api.gql(`{ __typename }`);
    assert.equal(typename.status, 200);
    assert.deepEqual(typename.data, { __typename: "Query" });
  });

  test("with a key (tenant or admin) introspection works", async () => {
    for (const key of [acme.key, api.adminKey]) {
      const res = await api.gql<{ __schema: { queryType: { name: string } } }>(SHALLOW, undefined, key);
      assert.equal(res.status, 200);
      assert.deepEqual(res.data, { __schema: { queryType: { name: "Query" } } });
    }
  });

  test("introspection deeper than maxDepth is QUERY_TOO_DEEP over HTTP and over the socket", async () => {
    const res = await api.gql(DEEP, undefined, acme.key);
    assert.equal(res.status, 400);
    assert.equal(res.errors?.[0]?.extensions?.code, "QUERY_TOO_DEEP");
    assert.match(res.errors![0]!.message, /depth limit of 6 exceeded, found 8/);
    const { iterator } = await api.subscribe(DEEP, undefined, acme.key);
    const outcome = await nextWithin(iterator, 5000).then(
      (r) => r.value?.errors?.[0]?.extensions?.code,
      (e: unknown) => (Array.isArray(e) ? (e[0] as { extensions?: { code?: string } }).extensions?.code : String(e)),
    );
    assert.equal(outcome, "QUERY_TOO_DEEP");
  });
});
