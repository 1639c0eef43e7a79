/** @module test/api/auth — authentication and roles over real HTTP and WebSocket connections. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { postGraphQL } from "../helpers/graphql.ts";
import { startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";

const VIEWER = `{ viewer { kind role tenant { id name } apiKey { id name prefix role } } }`;

describe("authentication over HTTP", () => {
  let api: TestApi;
  let tenant: TestTenant;
  let member: { id: string; key: string };

  before(async () => {
    api = await startTestApi();
    tenant = await api.createTenantWithKey("auth-acme");
    member = await api.createKey(tenant.key, "MEMBER", "reader");
  });
  after(async () => {
    await api?.stop();
  });

  test("no Authorization header: UNAUTHENTICATED from guarded fields, HTTP 401", async () => {
    const res = await api.gql(VIEWER);
    assert.equal(res.status, 401);
    assert.equal(res.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    assert.match(res.errors![0]!.message, /Bearer/);
  });

  for (const [label, authorization, pattern] of [
    ["not Bearer", "Basic dXNlcjpwYXNz", /malformed Authorization header/],
    ["empty token", "Bearer ", /malformed Authorization header/],
    ["not a key", "Bearer hello-world", /malformed API key/],
    ["unknown key", `Bearer parm_0123456789_${"A".repeat(43)}`, /unknown API key/],
  ] as const) {
    test(`${label}: 401 UNAUTHENTICATED before execution`, async () => {
      const res = await postGraphQL(api.graphqlUrl, VIEWER, undefined, { authorization });
      assert.equal(res.status, 401);
      assert.equal(res.data, undefined);
      assert.equal(res.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
      assert.match(res.errors![0]!.message, pattern);
      assert.match(res.headers.get("www-authenticate") ?? "", /Bearer/);
    });
  }

  test("the admin key: viewer is ADMIN without tenant", async () => {
    const data = await api.gqlOk(VIEWER, undefined, api.adminKey);
    assert.deepEqual(data.viewer, { kind: "ADMIN", role: null, tenant: null, apiKey: null });
  });

  test("a tenant admin key: viewer names the tenant and the key", async () => {
    const data = await api.gqlOk(VIEWER, undefined, tenant.key);
    assert.equal(data.viewer.kind, "TENANT");
    assert.equal(data.viewer.role, "TENANT_ADMIN");
    assert.equal(data.viewer.tenant.id, tenant.id);
    assert.equal(data.viewer.tenant.name, "auth-acme");
    assert.equal(data.viewer.apiKey.id, tenant.keyId);
    assert.equal(tenant.key.startsWith(data.viewer.apiKey.prefix + "_"), true);
  });

  test("only sha256 and the prefix of a key are stored", async () => {
    const rows = await api.db.system.apiKey.findMany({ where: { tenantId: tenant.uuid } });
    assert.ok(rows.length >= 2);
    for (const row of rows) {
      assert.match(row.secretHash, /^[0-9a-f]{64}$/);
      assert.match(row.prefix, /^parm_[0-9a-f]{10}$/);
      assert.ok(!JSON.stringify(row, (_k, v) => (typeof v === "bigint" ? String(v) : v)).includes(tenant.key.slice(16)));
    }
  });

  test("a MEMBER key reads but cannot manage keys or dimensions (FORBIDDEN, 403)", async () => {
    const viewer = await api.gqlOk(VIEWER, undefined, member.key);
    assert.equal(viewer.viewer.role, "MEMBER");
    const dims = await api.gqlOk(`{ dimensions { id } }`, undefined, member.key);
    assert.deepEqual(dims.dimensions, []);
    for (const op of [
      `{ apiKeys { edges { node { id } } } }`,
      `mutation { createApiKey(input: { name: "x" }) { __typename } }`,
      `mutation { createDimension(input: { name: "helpful" }) { __typename } }`,
    ]) {
      const res = await api.gql(op, undefined, member.key);
      assert.equal(res.errors?.[0]?.extensions?.code, "FORBIDDEN", op);
      assert.equal(res.status, 403, op);
    }
  });

  test("tenant keys cannot call admin fields; the admin cannot use tenant-only fields", async () => {
    for (const key of [tenant.key, member.key]) {
      const res = await api.gql(`{ tenants { edges { node { id } } } }`, undefined, key);
      assert.equal(res.errors?.[0]?.extensions?.code, "FORBIDDEN");
      const create = await api.gql(`mutation { createTenant(input: { name: "evil" }) { __typename } }`, undefined, key);
      assert.equal(create.errors?.[0]?.extensions?.code, "FORBIDDEN");
    }
    const res = await api.gql(`mutation { createDimension(input: { name: "x" }) { __typename } }`, undefined, api.adminKey);
    assert.equal(res.errors?.[0]?.extensions?.code, "FORBIDDEN");
  });

  test("a revoked key is rejected (UNAUTHENTICATED) from the next request on", async () => {
    const extra = await api.createKey(tenant.key, "MEMBER", "to-revoke");
    assert.equal((await api.gqlOk(VIEWER, undefined, extra.key)).viewer.kind, "TENANT");
    const revoked = await api.gqlOk(
      `mutation($id: ID!) { revokeApiKey(input: { id: $id }) { __typename ... on RevokeApiKeySuccess { apiKey { revokedAt } } } }`,
      { id: extra.id },
      tenant.key,
    );
    assert.equal(revoked.revokeApiKey.__typename, "RevokeApiKeySuccess");
    assert.ok(revoked.revokeApiKey.apiKey.revokedAt);
    const res = await api.gql(VIEWER, undefined, extra.key);
    assert.equal(res.status, 401);
    assert.equal(res.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    assert.match(res.errors![0]!.message, /revoked/);
  });
});
