/** @module test/api/node — node(id:): dispatch by type, visibility per caller, malformed and foreign ids. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { toGlobalId } from "../../src/schema/common/index.ts";
import { startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";

const NODE = `query($id: ID!) { node(id: $id) {
  __typename id
  ... on Tenant { name }
  ... on ApiKey { name role }
  ... on PreferenceDimension { name position }
} }`;

describe("node(id:)", () => {
  let api: TestApi;
  let acme: TestTenant;
  let globex: TestTenant;
  let member: { id: string; key: string };
  let acmeDim: string;
  let globexDim: string;

  before(async () => {
    api = await startTestApi();
    acme = await api.createTenantWithKey("node-acme");
    globex = await api.createTenantWithKey("node-globex");
    member = await api.createKey(acme.key, "MEMBER", "reader");
    const mk = async (key: string) =>
      (await api.gqlOk(`mutation { createDimension(input: { name: "helpful" }) { ... on CreateDimensionSuccess { dimension { id } } } }`, undefined, key))
        .createDimension.dimension.id as string;
    acmeDim = await mk(acme.key);
    globexDim = await mk(globex.key);
  });
  after(async () => {
    await api?.stop();
  });

  test("each registered type resolves with its __typename and the same global id", async () => {
    const tenant = (await api.gqlOk(NODE, { id: acme.id }, acme.key)).node;
    assert.deepEqual(tenant, { __typename: "Tenant", id: acme.id, name: "node-acme" });
    const key = (await api.gqlOk(NODE, { id: acme.keyId }, acme.key)).node;
    assert.deepEqual(key, { __typename: "ApiKey", id: acme.keyId, name: "admin", role: "TENANT_ADMIN" });
    const dim = (await api.gqlOk(NODE, { id: acmeDim }, member.key)).node;
    assert.deepEqual(dim, { __typename: "PreferenceDimension", id: acmeDim, name: "helpful", position: 0 });
  });

  test("another tenant's objects are null, exactly like missing ones", async () => {
    for (const id of [globex.id, globex.keyId, globexDim]) {
      const res = await api.gql(NODE, { id }, acme.key);
      assert.equal(res.errors, undefined);
      assert.deepEqual(res.data, { node: null }, id);
    }
    const missing = toGlobalId("PreferenceDimension", "00000000-0000-4000-8000-000000000000");
    assert.deepEqual((await api.gqlOk(NODE, { id: missing }, acme.key)).node, null);
    const unknownType = toGlobalId("Spaceship", "00000000-0000-4000-8000-000000000000");
    assert.deepEqual((await api.gqlOk(NODE, { id: unknownType }, acme.key)).node, null);
  });

  test("a MEMBER sees its own key but not its tenant's other keys", async () => {
    assert.equal((await api.gqlOk(NODE, { id: member.id }, member.key)).node.id, member.id);
    assert.equal((await api.gqlOk(NODE, { id: acme.keyId }, member.key)).node, null);
  });

  test("the platform admin reads any node", async () => {
    for (const id of [acme.id, globex.keyId, globexDim]) {
      assert.equal((await api.gqlOk(NODE, { id }, api.adminKey)).node.id, id);
    }
  });

  test("malformed ids are BAD_USER_INPUT; anonymous callers are UNAUTHENTICATED", async () => {
    for (const id of ["", "not base64!", Buffer.from("Tenant:not-a-uuid").toString("base64"), Buffer.from("nocolon").toString("base64")]) {
      const res = await api.gql(NODE, { id }, acme.key);
      assert.equal(res.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", id);
      assert.match(res.errors![0]!.message, /invalid id/);
    }
    const anon = await api.gql(NODE, { id: acme.id });
    assert.equal(anon.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
  });
});
