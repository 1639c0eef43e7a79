/** @module test/api/limits — request limits over HTTP: depth, cost, aliases, tokens, recursive selections, body
 *  size, introspection off, and the per-tenant mutation rate limit. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { postGraphQL } from "../helpers/graphql.ts";
import { startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";

describe("request limits", () => {
  let api: TestApi;
  let acme: TestTenant;
  let globex: TestTenant;

  before(async () => {
    api = await startTestApi({
      limits: {
        maxDepth: 5,
        maxCost: 60,
        maxAliases: 4,
        maxTokens: 400,
        maxRecursiveSelections: 60,
        bodyLimitBytes: 8 * 1024,
        introspection: false,
      },
    });
    acme = await api.createTenantWithKey("limits-acme", { mutationsPerMinute: 3 });
    globex = await api.createTenantWithKey("limits-globex", { mutationsPerMinute: 3 });
  });
  after(async () => {
    await api?.stop();
  });

  test("depth over the limit: HTTP 400 QUERY_TOO_DEEP naming limit and depth; at the limit: fine", async () => {
    const ok = await api.gql(`{ tenants { edges { node { id } } } }`, undefined, api.adminKey);
    assert.equal(ok.status, 200);
    const deep = await api.gql(`{ tenants { edges { node { ... on Tenant { ... on Tenant { id } } } } } }`, undefined, api.adminKey);
    assert.equal(deep.status, 400);
    assert.equal(deep.errors?.[0]?.extensions?.code, "QUERY_TOO_DEEP");
    assert.match(deep.errors![0]!.message, /depth limit of 5 exceeded, found 6/);
  });

  test("cost over the limit: QUERY_TOO_COMPLEX", async () => {
    const fields = "id name maxConcurrentJobs maxDatasetBytes mutationsPerMinute createdAt";
    const q = `{ tenants { edges { cursor node { ${fields} } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }
      viewer { kind role tenant { ${fields} } apiKey { id name prefix role createdAt lastUsedAt revokedAt } } }`;
    const res = await api.gql(q, undefined, api.adminKey);
    assert.equal(res.status, 400);
    assert.equal(res.errors?.[0]?.extensions?.code, "QUERY_TOO_COMPLEX");
    assert.match(res.errors![0]!.message, /cost limit of 60 exceeded, found 84.25/i);
  });

  test("too many aliases: QUERY_TOO_LARGE", async () => {
    const q = `{ a: viewer { kind } b: viewer { kind } c: viewer { kind } d: viewer { kind } e: viewer { kind } }`;
    const res = await api.gql(q, undefined, acme.key);
    assert.equal(res.status, 400);
    assert.equal(res.errors?.[0]?.extensions?.code, "QUERY_TOO_LARGE");
    assert.match(res.errors![0]!.message, /aliases/i);
  });

  test("too many tokens: rejected before parsing completes", async () => {
    const q = `{ viewer { ${"kind ".repeat(400)} } }`;
    const res = await api.gql(q, undefined, acme.key);
    assert.equal(res.status, 400);
    assert.equal(res.errors?.[0]?.extensions?.code, "QUERY_TOO_LARGE");
    assert.match(res.errors![0]!.message, /400 tokens/i);
  });

  test("too many recursive selections via fragments: QUERY_TOO_LARGE", async () => {
    // 3 + 3 × (3 + 3 × 6) = 66 selections after expansion > 60, though the text is short.
    const q = `query { tenants { edges { node { ...A ...A ...A } } } }
      fragment A on Tenant { ...B ...B ...B }
      fragment B on Tenant { id name maxConcurrentJobs maxDatasetBytes mutationsPerMinute createdAt }`;
    const res = await api.gql(q, undefined, api.adminKey);
    assert.equal(res.status, 400);
    assert.equal(res.errors?.[0]?.extensions?.code, "QUERY_TOO_LARGE", JSON.stringify(res.errors));
    assert.match(res.errors![0]!.message, /recursively requests too many selections/);
  });

  test("a body over the limit is 413 PAYLOAD_TOO_LARGE naming the limit", async () => {
    const res = await postGraphQL(api.graphqlUrl, `{ viewer { kind } }`, { pad: "x".repeat(10_000) }, { key: acme.key });
    assert.equal(res.status, 413);
    assert.equal(res.errors?.[0]?.extensions?.code, "PAYLOAD_TOO_LARGE");
    assert.match(res.errors![0]!.message, /8192 bytes/);
    const bad = await fetch(api.graphqlUrl, { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" });
    assert.equal(bad.status, 400);
  });

  test("introspection is refused when disabled (production default)", async () => {
    const res = await api.gql(`{ __schema { types { name } } }`, undefined, api.adminKey);
    assert.equal(res.status, 400);
    assert.equal(res.errors?.[0]?.extensions?.code, "GRAPHQL_VALIDATION_FAILED");
    assert.match(res.errors![0]!.message, /introspection/i);
    // Field suggestions are masked too.
    const typo = await api.gql(`{ viewr { kind } }`, undefined, api.adminKey);
    assert.doesNotMatch(typo.errors![0]!.message, /Did you mean/);
  });

  test("mutations beyond Tenant.mutationsPerMinute are RATE_LIMITED (429, Retry-After); per tenant; aliases count", async () => {
    const mutation = (name: string) => `mutation { createDimension(input: { name: "${name}" }) { __typename } }`;
    // Two aliased fields cost two tokens.
    const pair = await api.gql(
      `mutation { a: createDimension(input: { name: "a1" }) { __typename } b: createDimension(input: { name: "b1" }) { __typename } }`,
      undefined,
      acme.key,
    );
    assert.equal(pair.status, 200);
    assert.equal((await api.gql(mutation("c1"), undefined, acme.key)).status, 200);
    const limited = await api.gql(mutation("d1"), undefined, acme.key);
    assert.equal(limited.status, 429);
    assert.equal(limited.errors?.[0]?.extensions?.code, "RATE_LIMITED");
    const retryAfter = limited.errors![0]!.extensions!.retryAfter as number;
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 20, String(retryAfter));
    assert.equal(limited.headers.get("retry-after"), String(retryAfter));
    assert.equal(limited.data, undefined);
    assert.equal(await api.db.system.preferenceDimension.count({ where: { tenantId: acme.uuid, name: "d1" } }), 0);
    // Queries are not limited; another tenant has its own bucket; the admin is not limited.
    assert.equal((await api.gql(`{ viewer { kind } }`, undefined, acme.key)).status, 200);
    assert.equal((await api.gql(mutation("g1"), undefined, globex.key)).status, 200);
    for (let i = 0; i < 4; i++) {
      const res = await api.gql(`mutation { createTenant(input: { name: "rl-${i}" }) { __typename } }`, undefined, api.adminKey);
      assert.equal(res.status, 200);
    }
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    assert.match(metrics, /^parm_rate_limited_total 1$/m);
  });

  test("automatic persisted queries: a miss is PERSISTED_QUERY_NOT_FOUND (200, no-cache); then the hash alone runs", async () => {
    const query = `{ viewer { kind } }`;
    const sha256Hash = createHash("sha256").update(query).digest("hex");
    const send = (body: Record<string, unknown>) =>
      fetch(api.graphqlUrl, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${acme.key}` },
        body: JSON.stringify(body),
      });
    const extensions = { persistedQuery: { version: 1, sha256Hash } };
    const miss = await send({ extensions });
    assert.equal(miss.status, 200);
    assert.match(miss.headers.get("cache-control") ?? "", /no-cache/);
    const missBody = (await miss.json()) as { errors: { extensions: { code: string } }[] };
    assert.equal(missBody.errors[0]!.extensions.code, "PERSISTED_QUERY_NOT_FOUND");
    assert.equal((await send({ query, extensions })).status, 200);
    const hit = await send({ extensions });
    assert.deepEqual(await hit.json(), { data: { viewer: { kind: "TENANT" } } });
  });
});
