/** @module test/api/keys — apiKeys, createApiKey, revokeApiKey: roles, tenant isolation, admin access, typed errors. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { toGlobalId } from "../../src/schema/common/index.ts";
import { startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";

const LIST = `query($tenantId: ID, $includeRevoked: Boolean, $first: Int) {
  apiKeys(tenantId: $tenantId, includeRevoked: $includeRevoked, first: $first) {
    edges { node { id name prefix role revokedAt lastUsedAt } } pageInfo { hasNextPage }
  } }`;
const CREATE = `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
  __typename
  ... on CreateApiKeySuccess { apiKey { id name role prefix } secret }
  ... on ValidationError { field message }
  ... on NotFoundError { id message }
} }`;
const REVOKE = `mutation($id: ID!) { revokeApiKey(input: { id: $id }) {
  __typename
  ... on RevokeApiKeySuccess { apiKey { id revokedAt } }
  ... on ValidationError { field message }
  ... on NotFoundError { id message }
} }`;

describe("API keys", () => {
  let api: TestApi;
  let acme: TestTenant;
  let globex: TestTenant;
  let acmeMember: { id: string; key: string };
  let globexMember: { id: string; key: string };

  before(async () => {
    api = await startTestApi();
    acme = await api.createTenantWithKey("keys-acme");
    globex = await api.createTenantWithKey("keys-globex");
    acmeMember = await api.createKey(acme.key, "MEMBER", "acme-reader");
    globexMember = await api.createKey(globex.key, "MEMBER", "globex-reader");
  });
  after(async () => {
    await api?.stop();
  });

  test("a tenant admin lists only its own tenant's keys", async () => {
    const data = await api.gqlOk(LIST, {}, acme.key);
    const ids = data.apiKeys.edges.map((e: any) => e.node.id).sort();
    assert.deepEqual(ids, [acme.keyId, acmeMember.id].sort());
    assert.ok(!ids.includes(globex.keyId) && !ids.includes(globexMember.id));
    // The key in use has lastUsedAt recorded.
    const self = data.apiKeys.edges.find((e: any) => e.node.id === acme.keyId).node;
    assert.ok(self.lastUsedAt);
  });

  test("tenantId: own tenant allowed, another tenant FORBIDDEN, malformed BAD_USER_INPUT", async () => {
    const own = await api.gqlOk(LIST, { tenantId: acme.id }, acme.key);
    assert.equal(own.apiKeys.edges.length, 2);
    const other = await api.gql(LIST, { tenantId: globex.id }, acme.key);
    assert.equal(other.errors?.[0]?.extensions?.code, "FORBIDDEN");
    assert.equal(other.data, null);
    const bad = await api.gql(LIST, { tenantId: "zzz" }, acme.key);
    assert.equal(bad.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    assert.match(bad.errors![0]!.message, /invalid id/);
  });

  test("the platform admin lists any tenant's keys but must name the tenant", async () => {
    const data = await api.gqlOk(LIST, { tenantId: globex.id }, api.adminKey);
    assert.deepEqual(data.apiKeys.edges.map((e: any) => e.node.id).sort(), [globex.keyId, globexMember.id].sort());
    const missing = await api.gql(LIST, {}, api.adminKey);
    assert.equal(missing.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    assert.match(missing.errors![0]!.message, /tenantId/);
  });

  test("anonymous and MEMBER callers cannot list, create or revoke", async () => {
    for (const [key, code] of [[undefined, "UNAUTHENTICATED"], [acmeMember.key, "FORBIDDEN"]] as const) {
      assert.equal((await api.gql(LIST, {}, key)).errors?.[0]?.extensions?.code, code);
      assert.equal((await api.gql(CREATE, { input: { name: "x" } }, key)).errors?.[0]?.extensions?.code, code);
      assert.equal((await api.gql(REVOKE, { id: acme.keyId }, key)).errors?.[0]?.extensions?.code, code);
    }
  });

  test("createApiKey: MEMBER by default, secret works once created, TENANT_ADMIN on request", async () => {
    const data = await api.gqlOk(CREATE, { input: { name: "ci" } }, acme.key);
    assert.equal(data.createApiKey.__typename, "CreateApiKeySuccess");
    assert.equal(data.createApiKey.apiKey.role, "MEMBER");
    assert.ok(data.createApiKey.secret.startsWith(data.createApiKey.apiKey.prefix + "_"));
    const viewer = await api.gqlOk(`{ viewer { apiKey { id } role } }`, undefined, data.createApiKey.secret);
    assert.deepEqual(viewer.viewer, { apiKey: { id: data.createApiKey.apiKey.id }, role: "MEMBER" });
    const admin = await api.gqlOk(CREATE, { input: { name: "ops", role: "TENANT_ADMIN" } }, acme.key);
    assert.equal(admin.createApiKey.apiKey.role, "TENANT_ADMIN");
  });

  test("createApiKey for another tenant: FORBIDDEN for tenants; the admin needs an existing tenant", async () => {
    const res = await api.gql(CREATE, { input: { name: "x", tenantId: globex.id } }, acme.key);
    assert.equal(res.errors?.[0]?.extensions?.code, "FORBIDDEN");
    const byAdmin = await api.gqlOk(CREATE, { input: { name: "support", tenantId: globex.id } }, api.adminKey);
    assert.equal(byAdmin.createApiKey.__typename, "CreateApiKeySuccess");
    const ghost = toGlobalId("Tenant", "00000000-0000-4000-8000-000000000000");
    const notFound = await api.gqlOk(CREATE, { input: { name: "x", tenantId: ghost } }, api.adminKey);
    assert.deepEqual(notFound.createApiKey.__typename, "NotFoundError");
    assert.equal(notFound.createApiKey.id, ghost);
    const malformed = await api.gqlOk(CREATE, { input: { name: "x", tenantId: "nope" } }, api.adminKey);
    assert.equal(malformed.createApiKey.__typename, "ValidationError");
    assert.equal(malformed.createApiKey.field, "input.tenantId");
    const noTenant = await api.gql(CREATE, { input: { name: "x" } }, api.adminKey);
    assert.equal(noTenant.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    const empty = await api.gqlOk(CREATE, { input: { name: "" } }, acme.key);
    assert.equal(empty.createApiKey.__typename, "ValidationError");
    assert.equal(empty.createApiKey.field, "input.name");
  });

  test("revokeApiKey with another tenant's key id is NotFoundError and revokes nothing", async () => {
    const data = await api.gqlOk(REVOKE, { id: globexMember.id }, acme.key);
    assert.equal(data.revokeApiKey.__typename, "NotFoundError");
    assert.equal(data.revokeApiKey.id, globexMember.id);
    const still = await api.gqlOk(`{ viewer { role } }`, undefined, globexMember.key);
    assert.equal(still.viewer.role, "MEMBER");
    const wrongType = await api.gqlOk(REVOKE, { id: globex.id }, acme.key);
    assert.equal(wrongType.revokeApiKey.__typename, "ValidationError");
    assert.match(wrongType.revokeApiKey.message, /expected a ApiKey id, got a Tenant id/);
  });

  test("the last active TENANT_ADMIN key cannot be revoked by the tenant; revoking is idempotent", async () => {
    const solo = await api.createTenantWithKey("keys-solo");
    const refused = await api.gqlOk(REVOKE, { id: solo.keyId }, solo.key);
    assert.equal(refused.revokeApiKey.__typename, "ValidationError");
    assert.match(refused.revokeApiKey.message, /last active TENANT_ADMIN/);
    const second = await api.createKey(solo.key, "TENANT_ADMIN", "second");
    const ok = await api.gqlOk(REVOKE, { id: solo.keyId }, second.key);
    assert.equal(ok.revokeApiKey.__typename, "RevokeApiKeySuccess");
    const again = await api.gqlOk(REVOKE, { id: solo.keyId }, second.key);
    assert.equal(again.revokeApiKey.apiKey.revokedAt, ok.revokeApiKey.apiKey.revokedAt);
    const hidden = await api.gqlOk(LIST, {}, second.key);
    assert.deepEqual(hidden.apiKeys.edges.map((e: any) => e.node.id), [second.id]);
    const shown = await api.gqlOk(LIST, { includeRevoked: true }, second.key);
    assert.equal(shown.apiKeys.edges.length, 2);
  });

  test("the platform admin may revoke any tenant's key", async () => {
    const victim = await api.createKey(globex.key, "MEMBER", "victim");
    const data = await api.gqlOk(REVOKE, { id: victim.id }, api.adminKey);
    assert.equal(data.revokeApiKey.__typename, "RevokeApiKeySuccess");
    assert.equal((await api.gql(`{ viewer { role } }`, undefined, victim.key)).status, 401);
  });
});
