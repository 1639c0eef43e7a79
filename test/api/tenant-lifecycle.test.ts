/**
 * @module test/api/tenant-lifecycle — the platform admin's suspendTenant and deleteTenant over a real API: a
 * suspended tenant's keys are refused on every request (GraphQL and the upload route) with a message saying so, its
 * active jobs are cancelled and it starts none; resuming restores it; deleteTenant is refused while the tenant has
 * active jobs (nothing changes), then deletes every row and stored file of the tenant and nothing of another one.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { localArtifactServiceFactory } from "../../src/api/services/context.ts";
import { ingestJobEvent } from "../../src/api/services/job-events.ts";
import { domainClient, globalId, STORIES_GGUF, tinyGguf, uuidOf } from "../helpers/domain-fixtures.ts";
import { startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";

const SUSPEND = `mutation($id: ID!, $suspended: Boolean!) { suspendTenant(input: { id: $id, suspended: $suspended }) { __typename
  ... on SuspendTenantSuccess { tenant { id suspendedAt } cancelledJobIds }
  ... on NotFoundError { id } ... on ValidationError { field } } }`;
const DELETE = `mutation($id: ID!) { deleteTenant(input: { id: $id }) { __typename
  ... on DeleteTenantSuccess { deletedId } ... on ResourceInUse { message usedBy } ... on NotFoundError { id } ... on ValidationError { field } } }`;
const VIEWER = `{ viewer { kind } }`;

let api: TestApi;
let artifacts: string;

before(async () => {
  artifacts = await mkdtemp(join(tmpdir(), "parm-tenant-lifecycle-"));
  api = await startTestApi({ serviceFactories: [localArtifactServiceFactory(artifacts)] });
});
after(async () => {
  await api?.stop();
  await rm(artifacts, { recursive: true, force: true });
});

/** A tenant holding a dataset (with its snapshot), an uploaded model, a base model and an adapter. */
async function populated() {
  const t = await api.createTenantWithKey(undefined, { maxConcurrentJobs: 20 });
  const c = domainClient(api, t.key, t.uuid);
  const dims = await c.dimensions(["helpful", "harmless"]);
  const model = (await c.registerModel({ name: "base", kind: "BASE", location: STORIES_GGUF.href })).model.id;
  const dataset = await c.pkuDataset("pku", dims);
  const upload = (await c.registerModel({ name: "tiny", kind: "BASE", upload: { fileName: "t.gguf", contentBase64: tinyGguf([t.uuid]).toString("base64") } })).model;
  await c.trainedAdapter("arm", model, dims, dataset);
  const snapshot = fileURLToPath((await api.db.system.dataset.findUniqueOrThrow({ where: { id: uuidOf(dataset) } })).snapshotKey!);
  return { t, c, dims, model, dataset, files: [snapshot, fileURLToPath(upload.location)] };
}

async function suspend(t: TestTenant, suspended: boolean) {
  return (await api.gqlOk<any>(SUSPEND, { id: t.id, suspended }, api.adminKey)).suspendTenant;
}

describe("suspendTenant", () => {
  it("refuses the tenant's keys with a clear message, cancels its active jobs, and resuming restores it", async () => {
    const { t, c, dims, model, dataset } = await populated();
    const member = await api.createKey(t.key, "MEMBER");
    const other = await api.createTenantWithKey();
    const queued = await c.startTraining("queued", model, dims, dataset);
    const running = await c.startTraining("running", model, dims, dataset);
    await ingestJobEvent(api.db, api.server.pubSub, uuidOf(running), 1, { type: "started", runnerId: "r1", attempt: 1, device: "cpu", resumedFromStep: 0 });

    const suspended = await suspend(t, true);
    assert.equal(suspended.__typename, "SuspendTenantSuccess");
    assert.ok(suspended.tenant.suspendedAt);
    assert.deepEqual([...suspended.cancelledJobIds].sort(), [queued, running].sort());
    assert.equal((await api.db.system.job.findUniqueOrThrow({ where: { id: uuidOf(queued) } })).status, "CANCELLED");
    assert.equal((await api.db.system.job.findUniqueOrThrow({ where: { id: uuidOf(running) } })).cancelRequested, true, "the runner is asked to stop");

    for (const key of [t.key, member.key]) {
      const res = await api.gql(VIEWER, undefined, key);
      assert.equal(res.status, 401);
      assert.equal(res.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
      assert.match(res.errors![0]!.message, /tenant suspended by the platform admin/);
    }
    const upload = await fetch(`${api.url}/v1/models?name=x&kind=BASE&fileName=x.gguf`, { method: "POST", headers: { authorization: `Bearer ${t.key}` }, body: tinyGguf(["x"]) });
    assert.equal(upload.status, 401);
    assert.match(JSON.stringify(await upload.json()), /tenant suspended/);
    assert.equal((await api.gqlOk<any>(VIEWER, undefined, other.key)).viewer.kind, "TENANT", "other tenants are unaffected");
    assert.equal((await suspend(t, true)).tenant.suspendedAt, suspended.tenant.suspendedAt, "suspending again keeps the time");

    const resumed = await suspend(t, false);
    assert.equal(resumed.tenant.suspendedAt, null);
    assert.equal((await api.gqlOk<any>(VIEWER, undefined, t.key)).viewer.kind, "TENANT");
    await c.startTraining("after-resume", model, dims, dataset);
  });

  it("is the platform admin's: tenant keys are FORBIDDEN; unknown ids NotFoundError, malformed ValidationError", async () => {
    const t = await api.createTenantWithKey();
    const res = await api.gql(SUSPEND, { id: t.id, suspended: true }, t.key);
    assert.equal(res.errors?.[0]?.extensions?.code, "FORBIDDEN");
    const missing = globalId("Tenant", "00000000-0000-4000-8000-000000000000");
    assert.equal((await api.gqlOk<any>(SUSPEND, { id: missing, suspended: true }, api.adminKey)).suspendTenant.__typename, "NotFoundError");
    assert.equal((await api.gqlOk<any>(SUSPEND, { id: "nope", suspended: true }, api.adminKey)).suspendTenant.field, "input.id");
    assert.equal((await api.gql(DELETE, { id: t.id }, t.key)).errors?.[0]?.extensions?.code, "FORBIDDEN");
  });
});

describe("deleteTenant", () => {
  it("is refused while a job is active; then deletes every row and stored file of the tenant, and nothing else", async () => {
    const { t, c, dims, model, dataset, files } = await populated();
    const neighbour = await populated();
    const queued = await c.startTraining("queued", model, dims, dataset);

    const busy = (await api.gqlOk<any>(DELETE, { id: t.id }, api.adminKey)).deleteTenant;
    assert.deepEqual([busy.__typename, busy.usedBy], ["ResourceInUse", [queued]]);
    assert.match(busy.message, /1 active job/);
    assert.equal((await api.gqlOk<any>(VIEWER, undefined, t.key)).viewer.kind, "TENANT", "nothing changed");
    for (const file of files) assert.ok(existsSync(file));

    await c.cancel(queued);
    const done = (await api.gqlOk<any>(DELETE, { id: t.id }, api.adminKey)).deleteTenant;
    assert.deepEqual(done, { __typename: "DeleteTenantSuccess", deletedId: t.id });
    const res = await api.gql(VIEWER, undefined, t.key);
    assert.deepEqual([res.status, res.errors?.[0]?.message], [401, "unknown API key"]);
    for (const file of files) assert.equal(existsSync(file), false, `${file} is deleted`);
    for (const table of ["dataset", "datasetRecord", "model", "adapter", "job", "jobEvent", "apiKey", "preferenceDimension"] as const) {
      assert.equal(await (api.db.system[table] as any).count({ where: { tenantId: t.uuid } }), 0, `${table} rows are gone`);
    }
    for (const file of neighbour.files) assert.ok(existsSync(file), "the other tenant's files stay");
    assert.equal((await api.gqlOk<any>(VIEWER, undefined, neighbour.t.key)).viewer.kind, "TENANT");
    assert.equal((await api.gqlOk<any>(DELETE, { id: t.id }, api.adminKey)).deleteTenant.__typename, "NotFoundError");
  });
});
