/** @module test/api/nul-characters — U+0000 (which PostgreSQL refuses) in GraphQL inputs and dataset lines, over a
 *  real API: a typed error naming the field or line, never INTERNAL_SERVER_ERROR, and nothing written. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { datasetLimitsServiceFactory } from "../../src/api/services/context.ts";
import { startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";

const NUL = "\u0000";
const MISSING_MODEL = Buffer.from("Model:00000000-0000-4000-8000-000000000000").toString("base64");

const CREATE_DIMENSION = `mutation($input: CreateDimensionInput!) { createDimension(input: $input) {
  __typename ... on CreateDimensionSuccess { dimension { id } } ... on ValidationError { field message } } }`;
const CREATE_DATASET = `mutation($input: CreateDatasetInput!) { createDataset(input: $input) {
  __typename ... on CreateDatasetSuccess { dataset { id } } ... on ValidationError { field message } ... on Error { message } } }`;
const GENERATE = `mutation($input: GenerateInput!) { generate(input: $input) {
  __typename ... on ValidationError { field message } ... on Error { message } } }`;
const UPLOAD = `mutation($input: UploadDatasetInput!) { uploadDataset(input: $input) {
  __typename ... on DatasetValidationFailed { message report { issues { line code reason } } } ... on Error { message } } }`;

let api: TestApi;
let tenant: TestTenant;
let dimension: string;

const uuidOf = (globalId: string) => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;

async function mutate(query: string, input: Record<string, unknown>): Promise<Record<string, any>> {
  const res = await api.gql<Record<string, any>>(query, { input }, tenant.key);
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  return Object.values(res.data!)[0] as Record<string, any>;
}

function assertNulRefused(payload: Record<string, any>, field: string): void {
  assert.equal(payload.__typename, "ValidationError", JSON.stringify(payload));
  assert.equal(payload.field, field);
  assert.match(payload.message, /NUL character \(U\+0000\)/);
}

before(async () => {
  api = await startTestApi({ serviceFactories: [datasetLimitsServiceFactory] });
  tenant = await api.createTenantWithKey();
  const created = await mutate(CREATE_DIMENSION, { name: "helpfulness" });
  dimension = created.dimension.id;
});
after(async () => {
  await api?.stop();
});

describe("GraphQL inputs holding U+0000", () => {
  it("createDimension: name and description are a ValidationError on the field; no dimension is written", async () => {
    assertNulRefused(await mutate(CREATE_DIMENSION, { name: `harm${NUL}lessness` }), "input.name");
    assertNulRefused(await mutate(CREATE_DIMENSION, { name: "harmlessness", description: `safe${NUL}` }), "input.description");
    assert.equal(await api.db.system.preferenceDimension.count({ where: { tenantId: tenant.uuid } }), 1);
  });

  it("createDataset: name and a label are a ValidationError on the field; no dataset is written", async () => {
    const labels = [{ label: "preferred", dimensionId: dimension }];
    assertNulRefused(await mutate(CREATE_DATASET, { name: `pairs${NUL}`, format: "GENERIC", labels }), "input.name");
    const badLabel = [{ label: `preferred${NUL}`, dimensionId: dimension }];
    assertNulRefused(await mutate(CREATE_DATASET, { name: "pairs", format: "GENERIC", labels: badLabel }), "input.labels[0].label");
    assert.equal(await api.db.system.dataset.count({ where: { tenantId: tenant.uuid } }), 0);
  });

  it("generate: the prompt and a stop string are a ValidationError on the field; no job is written", async () => {
    const input = { baseModelId: MISSING_MODEL, prompt: "Once upon a time", alphas: [[]], sampling: { stop: ["\n", "The end"] } };
    // Without a NUL the request reaches the service (and finds no model): the refusals below are the NUL check's.
    assert.equal((await mutate(GENERATE, input)).__typename, "NotFoundError");
    assertNulRefused(await mutate(GENERATE, { ...input, prompt: `Once upon${NUL} a time` }), "input.prompt");
    assertNulRefused(await mutate(GENERATE, { ...input, sampling: { stop: ["\n", `The${NUL}end`] } }), "input.sampling.stop[1]");
    assert.equal(await api.db.system.job.count({ where: { tenantId: tenant.uuid } }), 0);
    assert.equal(await api.db.system.generation.count({ where: { tenantId: tenant.uuid } }), 0);
  });

  it("a query argument is a top-level BAD_USER_INPUT naming it", async () => {
    const res = await api.gql(`query($after: String) { datasets(first: 5, after: $after) { edges { cursor } } }`, { after: `x${NUL}` }, tenant.key);
    assert.equal(res.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    assert.equal(res.errors?.[0]?.extensions?.argument, "after");
    assert.equal(res.data?.datasets ?? null, null);
  });
});

describe("dataset lines holding U+0000", () => {
  const good = (i: number) => JSON.stringify({ prompt: `prompt ${i}`, chosen: `yes ${i}`, rejected: `no ${i}` });
  const text = [good(1), JSON.stringify({ prompt: "p", chosen: `yes${NUL}`, rejected: "no" }), good(3)].join("\n");

  async function createDataset(name: string): Promise<string> {
    const created = await mutate(CREATE_DATASET, { name, format: "GENERIC", labels: [{ label: "preferred", dimensionId: dimension }] });
    return created.dataset.id;
  }

  async function assertRejectedWithNothingStored(id: string): Promise<void> {
    const row = await api.db.system.dataset.findUnique({ where: { id: uuidOf(id) } });
    assert.equal(row?.status, "REJECTED");
    assert.equal(await api.db.system.datasetRecord.count({ where: { datasetId: uuidOf(id) } }), 0);
  }

  it("uploadDataset: a line-numbered NUL_CHARACTER issue naming the field; the report is stored, no record", async () => {
    const id = await createDataset("nul-inline");
    const payload = await mutate(UPLOAD, { datasetId: id, contentBase64: Buffer.from(text).toString("base64") });
    assert.equal(payload.__typename, "DatasetValidationFailed", JSON.stringify(payload));
    assert.deepEqual(payload.report.issues.map((i: any) => [i.line, i.code]), [[2, "NUL_CHARACTER"]]);
    assert.match(payload.report.issues[0].reason, /field "chosen"/);
    await assertRejectedWithNothingStored(id);
  });

  it("POST /v1/datasets/:id/records: the same issue for a gzip body", async () => {
    const id = await createDataset("nul-stream");
    const res = await fetch(`${api.url}/v1/datasets/${encodeURIComponent(id)}/records`, {
      method: "POST",
      headers: { "content-type": "application/gzip", authorization: `Bearer ${tenant.key}` },
      body: gzipSync(Buffer.from(text)),
    });
    const body = (await res.json()) as Record<string, any>;
    assert.equal(res.status, 422, JSON.stringify(body));
    assert.deepEqual(body.error.report.issues.map((i: any) => [i.line, i.code]), [[2, "NUL_CHARACTER"]]);
    await assertRejectedWithNothingStored(id);
  });
});
