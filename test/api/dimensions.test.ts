/** @module test/api/dimensions — preference dimensions: ordering, positions, β_r and name rules, re-packing on
 *  delete, roles and tenant isolation. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { toGlobalId } from "../../src/schema/common/index.ts";
import { startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";

const LIST = `query($tenantId: ID) { dimensions(tenantId: $tenantId) { id name description betaR position } }`;
const CREATE = `mutation($input: CreateDimensionInput!) { createDimension(input: $input) {
  __typename
  ... on CreateDimensionSuccess { dimension { id name description betaR position createdAt updatedAt } }
  ... on ValidationError { field message }
} }`;
const UPDATE = `mutation($input: UpdateDimensionInput!) { updateDimension(input: $input) {
  __typename
  ... on UpdateDimensionSuccess { dimension { id name description betaR position } }
  ... on ValidationError { field message }
  ... on NotFoundError { id message }
} }`;
const DELETE = `mutation($id: ID!) { deleteDimension(input: { id: $id }) {
  __typename
  ... on DeleteDimensionSuccess { deletedId dimensions { id name position } }
  ... on ValidationError { field message }
  ... on NotFoundError { id message }
  ... on ResourceInUse { usedBy message }
} }`;

describe("preference dimensions", () => {
  let api: TestApi;
  let acme: TestTenant;
  let globex: TestTenant;
  let member: { id: string; key: string };

  const create = async (key: string, input: Record<string, unknown>) => (await api.gqlOk(CREATE, { input }, key)).createDimension;

  before(async () => {
    api = await startTestApi();
    acme = await api.createTenantWithKey("dims-acme");
    globex = await api.createTenantWithKey("dims-globex");
    member = await api.createKey(acme.key, "MEMBER", "reader");
  });
  after(async () => {
    await api?.stop();
  });

  test("new dimensions take the next position; defaults apply; the list is ordered by position", async () => {
    const a = await create(acme.key, { name: "helpful", description: "be useful", betaR: 0.05 });
    const b = await create(acme.key, { name: "harmless" });
    const c = await create(acme.key, { name: "humor", betaR: 2 });
    assert.deepEqual([a, b, c].map((p) => p.__typename), ["CreateDimensionSuccess", "CreateDimensionSuccess", "CreateDimensionSuccess"]);
    assert.deepEqual([a, b, c].map((p) => p.dimension.position), [0, 1, 2]);
    assert.equal(b.dimension.betaR, 0.01);
    assert.equal(b.dimension.description, "");
    assert.equal(a.dimension.description, "be useful");
    const list = await api.gqlOk(LIST, {}, member.key);
    assert.deepEqual(list.dimensions.map((d: any) => [d.name, d.position]), [["helpful", 0], ["harmless", 1], ["humor", 2]]);
    // Other tenants see none of them; same names are allowed there.
    assert.deepEqual((await api.gqlOk(LIST, {}, globex.key)).dimensions, []);
    const g = await create(globex.key, { name: "helpful" });
    assert.equal(g.dimension.position, 0);
  });

  test("names are unique per tenant; β_r must be finite and > 0; names follow the pattern", async () => {
    const dup = await create(acme.key, { name: "helpful" });
    assert.deepEqual([dup.__typename, dup.field], ["ValidationError", "input.name"]);
    assert.match(dup.message, /already exists/);
    for (const betaR of [0, -1, -0.0001]) {
      const bad = await create(acme.key, { name: `b${String(betaR).replace(/[^0-9]/g, "")}`, betaR });
      assert.deepEqual([bad.__typename, bad.field], ["ValidationError", "input.betaR"], String(betaR));
      assert.match(bad.message, /betaR must be > 0/);
    }
    const badName = await create(acme.key, { name: "9 lives" });
    assert.deepEqual([badName.__typename, badName.field], ["ValidationError", "input.name"]);
    // A non-finite β_r cannot even be expressed: GraphQL Float rejects it at coercion.
    const huge = await api.gql(CREATE, { input: { name: "inf", betaR: "Infinity" } }, acme.key);
    assert.equal(huge.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    const count = await api.db.system.preferenceDimension.count({ where: { tenantId: acme.uuid } });
    assert.equal(count, 3);
  });

  test("updateDimension changes fields, keeps the position, and rejects duplicates and bad β_r", async () => {
    const list = (await api.gqlOk(LIST, {}, acme.key)).dimensions;
    const humor = list.find((d: any) => d.name === "humor");
    const ok = (await api.gqlOk(UPDATE, { input: { id: humor.id, name: "funny", betaR: 0.5, description: "jokes" } }, acme.key)).updateDimension;
    assert.equal(ok.__typename, "UpdateDimensionSuccess");
    assert.deepEqual([ok.dimension.name, ok.dimension.betaR, ok.dimension.description, ok.dimension.position], ["funny", 0.5, "jokes", 2]);
    const dup = (await api.gqlOk(UPDATE, { input: { id: humor.id, name: "helpful" } }, acme.key)).updateDimension;
    assert.deepEqual([dup.__typename, dup.field], ["ValidationError", "input.name"]);
    const beta = (await api.gqlOk(UPDATE, { input: { id: humor.id, betaR: -2 } }, acme.key)).updateDimension;
    assert.deepEqual([beta.__typename, beta.field], ["ValidationError", "input.betaR"]);
    const malformed = (await api.gqlOk(UPDATE, { input: { id: "abc" } }, acme.key)).updateDimension;
    assert.deepEqual([malformed.__typename, malformed.field], ["ValidationError", "input.id"]);
  });

  test("another tenant's dimension ids are NotFoundError for update and delete, and nothing changes", async () => {
    const theirs = (await api.gqlOk(LIST, {}, globex.key)).dimensions[0];
    const upd = (await api.gqlOk(UPDATE, { input: { id: theirs.id, name: "stolen" } }, acme.key)).updateDimension;
    assert.deepEqual([upd.__typename, upd.id], ["NotFoundError", theirs.id]);
    const del = (await api.gqlOk(DELETE, { id: theirs.id }, acme.key)).deleteDimension;
    assert.deepEqual([del.__typename, del.id], ["NotFoundError", theirs.id]);
    assert.deepEqual((await api.gqlOk(LIST, {}, globex.key)).dimensions.map((d: any) => d.name), ["helpful"]);
    const ghost = toGlobalId("PreferenceDimension", "00000000-0000-4000-8000-000000000001");
    assert.equal((await api.gqlOk(DELETE, { id: ghost }, acme.key)).deleteDimension.__typename, "NotFoundError");
    // Listing another tenant's dimensions by id is forbidden to tenants.
    assert.equal((await api.gql(LIST, { tenantId: globex.id }, acme.key)).errors?.[0]?.extensions?.code, "FORBIDDEN");
  });

  test("MEMBER, admin and anonymous callers cannot change dimensions", async () => {
    const id = (await api.gqlOk(LIST, {}, acme.key)).dimensions[0].id;
    for (const [key, code] of [[member.key, "FORBIDDEN"], [api.adminKey, "FORBIDDEN"], [undefined, "UNAUTHENTICATED"]] as const) {
      assert.equal((await api.gql(CREATE, { input: { name: "x" } }, key)).errors?.[0]?.extensions?.code, code);
      assert.equal((await api.gql(UPDATE, { input: { id, name: "x" } }, key)).errors?.[0]?.extensions?.code, code);
      assert.equal((await api.gql(DELETE, { id }, key)).errors?.[0]?.extensions?.code, code);
    }
    assert.equal((await api.gql(LIST, {}, undefined)).errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
  });

  test("the platform admin reads any tenant's dimensions by tenantId", async () => {
    const data = await api.gqlOk(LIST, { tenantId: acme.id }, api.adminKey);
    assert.deepEqual(data.dimensions.map((d: any) => d.name), ["helpful", "harmless", "funny"]);
    assert.equal((await api.gql(LIST, {}, api.adminKey)).errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
  });

  test("deleting re-packs the later positions to stay dense, in α order", async () => {
    const t = await api.createTenantWithKey("dims-repack");
    const names = ["a", "b", "c", "d", "e"];
    const ids: string[] = [];
    for (const name of names) ids.push((await create(t.key, { name })).dimension.id);
    const del = (await api.gqlOk(DELETE, { id: ids[1] }, t.key)).deleteDimension;
    assert.equal(del.__typename, "DeleteDimensionSuccess");
    assert.equal(del.deletedId, ids[1]);
    assert.deepEqual(del.dimensions.map((d: any) => [d.name, d.position]), [["a", 0], ["c", 1], ["d", 2], ["e", 3]]);
    const first = (await api.gqlOk(DELETE, { id: ids[0] }, t.key)).deleteDimension;
    assert.deepEqual(first.dimensions.map((d: any) => [d.name, d.position]), [["c", 0], ["d", 1], ["e", 2]]);
    const next = await create(t.key, { name: "f" });
    assert.equal(next.dimension.position, 3);
    const again = (await api.gqlOk(DELETE, { id: ids[1] }, t.key)).deleteDimension;
    assert.equal(again.__typename, "NotFoundError");
  });

  test("a dimension used by a model or a dataset's label map cannot be deleted (ResourceInUse naming them)", async () => {
    const t = await api.createTenantWithKey("dims-used");
    const dim = (await create(t.key, { name: "safety" })).dimension;
    const uuid = Buffer.from(dim.id, "base64").toString().split(":")[1]!;
    const model = await api.db.system.model.create({
      data: { tenantId: t.uuid, name: "judge", kind: "EVALUATOR", format: "ONNX", location: "/x.onnx", dimensionId: uuid },
    });
    const del = (await api.gqlOk(DELETE, { id: dim.id }, t.key)).deleteDimension;
    assert.equal(del.__typename, "ResourceInUse");
    assert.deepEqual(del.usedBy, [Buffer.from(`Model:${model.id}`).toString("base64")]);
    assert.match(del.message, /used by 1 model and cannot be deleted/);
    await api.db.system.model.delete({ where: { id: model.id } });

    const dataset = await api.gqlOk(
      `mutation($input: CreateDatasetInput!) { createDataset(input: $input) { ... on CreateDatasetSuccess { dataset { id } } } }`,
      { input: { name: "hh", format: "HH_RLHF", labels: [{ label: "preferred", dimensionId: dim.id }] } },
      t.key,
    );
    const datasetId = dataset.createDataset.dataset.id;
    const mapped = (await api.gqlOk(DELETE, { id: dim.id }, t.key)).deleteDimension;
    assert.deepEqual([mapped.__typename, mapped.usedBy], ["ResourceInUse", [datasetId]]);
    assert.match(mapped.message, /used by 1 dataset/);
    const still = await api.gqlOk(`{ dimensions { id } }`, {}, t.key);
    assert.deepEqual(still.dimensions.map((d: any) => d.id), [dim.id], "nothing changed");
  });

  test("concurrent creates get distinct dense positions", async () => {
    const t = await api.createTenantWithKey("dims-race");
    const results = await Promise.all(["p", "q", "r", "s"].map((name) => create(t.key, { name })));
    assert.ok(results.every((r) => r.__typename === "CreateDimensionSuccess"), JSON.stringify(results));
    assert.deepEqual(results.map((r) => r.dimension.position).sort(), [0, 1, 2, 3]);
  });
});
