/** @module test/api/tenants — createTenant and tenants (platform admin only), pagination, typed errors. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startTestApi, type TestApi } from "../helpers/server.ts";

const CREATE = `mutation($input: CreateTenantInput!) { createTenant(input: $input) {
  __typename
  ... on CreateTenantSuccess { tenant { id name maxConcurrentJobs maxDatasetBytes mutationsPerMinute createdAt } apiKey { id role name } secret }
  ... on ValidationError { message field }
} }`;
const LIST = `query($first: Int, $after: String, $last: Int, $before: String) {
  tenants(first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { id name } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  } }`;

describe("tenants", () => {
  let api: TestApi;
  before(async () => {
    api = await startTestApi();
  });
  after(async () => {
    await api?.stop();
  });

  test("createTenant returns the tenant, its first TENANT_ADMIN key and the secret once", async () => {
    const data = await api.gqlOk(CREATE, { input: { name: "acme", maxConcurrentJobs: 2, maxDatasetBytes: 5e9, mutationsPerMinute: 30 } }, api.adminKey);
    const payload = data.createTenant;
    assert.equal(payload.__typename, "CreateTenantSuccess");
    assert.equal(payload.tenant.name, "acme");
    assert.equal(payload.tenant.maxConcurrentJobs, 2);
    assert.equal(payload.tenant.maxDatasetBytes, 5e9);
    assert.equal(payload.tenant.mutationsPerMinute, 30);
    assert.match(payload.tenant.createdAt, /^\d{4}-\d\d-\d\dT/);
    assert.equal(payload.apiKey.role, "TENANT_ADMIN");
    assert.equal(payload.apiKey.name, "admin");
    assert.match(payload.secret, /^parm_[0-9a-f]{10}_[A-Za-z0-9_-]{43}$/);
    const viewer = await api.gqlOk(`{ viewer { tenant { id } role } }`, undefined, payload.secret);
    assert.deepEqual(viewer.viewer, { tenant: { id: payload.tenant.id }, role: "TENANT_ADMIN" });
    // The global id decodes to Tenant:<uuid>.
    assert.match(Buffer.from(payload.tenant.id, "base64").toString(), /^Tenant:[0-9a-f-]{36}$/);
    const defaults = await api.gqlOk(CREATE, { input: { name: "defaults" } }, api.adminKey);
    assert.equal(defaults.createTenant.tenant.maxConcurrentJobs, 4);
    assert.equal(defaults.createTenant.tenant.mutationsPerMinute, 120);
  });

  test("a duplicate name is a ValidationError on input.name; nothing is created", async () => {
    await api.gqlOk(CREATE, { input: { name: "dup" } }, api.adminKey);
    const before = await api.db.system.apiKey.count();
    const data = await api.gqlOk(CREATE, { input: { name: "dup" } }, api.adminKey);
    assert.equal(data.createTenant.__typename, "ValidationError");
    assert.equal(data.createTenant.field, "input.name");
    assert.match(data.createTenant.message, /already exists/);
    assert.equal(await api.db.system.apiKey.count(), before);
  });

  test("invalid input is a ValidationError naming the field", async () => {
    for (const [input, field] of [
      [{ name: "Upper Case" }, "input.name"],
      [{ name: "" }, "input.name"],
      [{ name: "ok-name", maxConcurrentJobs: 0 }, "input.maxConcurrentJobs"],
      [{ name: "ok-name", mutationsPerMinute: -5 }, "input.mutationsPerMinute"],
    ] as const) {
      const data = await api.gqlOk(CREATE, { input }, api.adminKey);
      assert.equal(data.createTenant.__typename, "ValidationError", JSON.stringify(input));
      assert.equal(data.createTenant.field, field);
      assert.ok(data.createTenant.message.length > 5);
    }
    assert.equal(await api.db.system.tenant.count({ where: { name: "ok-name" } }), 0);
  });

  test("anonymous callers get UNAUTHENTICATED even with invalid input", async () => {
    const res = await api.gql(CREATE, { input: { name: "Bad Name" } });
    assert.equal(res.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    const list = await api.gql(LIST);
    assert.equal(list.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
  });

  test("tenants pages forward and backward with opaque cursors, newest first", async () => {
    for (let i = 0; i < 5; i++) await api.gqlOk(CREATE, { input: { name: `page-${i}` } }, api.adminKey);
    const all = (await api.gqlOk(LIST, { first: 100 }, api.adminKey)).tenants;
    const names = all.edges.map((e: any) => e.node.name);
    assert.equal(all.pageInfo.hasNextPage, false);
    assert.deepEqual(names.slice(0, 5), ["page-4", "page-3", "page-2", "page-1", "page-0"]);
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = (await api.gqlOk(LIST, { first: 2, after }, api.adminKey)).tenants;
      seen.push(...page.edges.map((e: any) => e.node.name));
      assert.equal(page.pageInfo.hasPreviousPage, after !== null);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    assert.deepEqual(seen, names);
    const lastTwo = (await api.gqlOk(LIST, { last: 2 }, api.adminKey)).tenants;
    assert.deepEqual(lastTwo.edges.map((e: any) => e.node.name), names.slice(-2));
    assert.equal(lastTwo.pageInfo.hasPreviousPage, true);
    const before = (await api.gqlOk(LIST, { last: 2, before: lastTwo.pageInfo.startCursor }, api.adminKey)).tenants;
    assert.deepEqual(before.edges.map((e: any) => e.node.name), names.slice(-4, -2));
    assert.equal(before.pageInfo.hasNextPage, true);
  });

  test("bad pagination arguments are BAD_USER_INPUT naming the problem", async () => {
    for (const [vars, pattern] of [
      [{ after: "not-a-cursor" }, /after.*not a cursor/],
      [{ first: 1, last: 1 }, /cannot be combined/],
      [{ first: 101 }, /first.*100|100/],
      [{ first: -1 }, /first/],
    ] as const) {
      const res = await api.gql(LIST, vars, api.adminKey);
      assert.equal(res.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", JSON.stringify(vars));
      assert.match(res.errors![0]!.message, pattern);
    }
  });

  test("updateTenant (admin only) changes quotas; the rate limit follows at once; bad ids are typed", async () => {
    const UPDATE = `mutation($input: UpdateTenantInput!) { updateTenant(input: $input) {
      __typename
      ... on UpdateTenantSuccess { tenant { id maxConcurrentJobs maxDatasetBytes mutationsPerMinute } }
      ... on ValidationError { field message }
      ... on NotFoundError { id }
    } }`;
    const t = await api.createTenantWithKey("quota-co");
    const data = await api.gqlOk(UPDATE, { input: { id: t.id, mutationsPerMinute: 1, maxDatasetBytes: 2048 } }, api.adminKey);
    assert.deepEqual(data.updateTenant, {
      __typename: "UpdateTenantSuccess",
      tenant: { id: t.id, maxConcurrentJobs: 4, maxDatasetBytes: 2048, mutationsPerMinute: 1 },
    });
    const mutation = `mutation { createDimension(input: { name: "x1" }) { __typename } }`;
    assert.equal((await api.gql(mutation, undefined, t.key)).status, 200);
    assert.equal((await api.gql(mutation, undefined, t.key)).errors?.[0]?.extensions?.code, "RATE_LIMITED");
    const invalid = await api.gqlOk(UPDATE, { input: { id: t.id, maxConcurrentJobs: 0 } }, api.adminKey);
    assert.deepEqual([invalid.updateTenant.__typename, invalid.updateTenant.field], ["ValidationError", "input.maxConcurrentJobs"]);
    const ghost = Buffer.from("Tenant:00000000-0000-4000-8000-00000000000f").toString("base64");
    assert.equal((await api.gqlOk(UPDATE, { input: { id: ghost } }, api.adminKey)).updateTenant.__typename, "NotFoundError");
    const wrongType = await api.gqlOk(UPDATE, { input: { id: t.keyId } }, api.adminKey);
    assert.deepEqual([wrongType.updateTenant.__typename, wrongType.updateTenant.field], ["ValidationError", "input.id"]);
    const other = await api.createTenantWithKey("quota-other");
    const forbidden = await api.gql(UPDATE, { input: { id: other.id, mutationsPerMinute: 1000 } }, other.key);
    assert.equal(forbidden.errors?.[0]?.extensions?.code, "FORBIDDEN");
  });
});
