/** @module test/api/models — registerModel (by location and inline upload) and the models query, over a real API. */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import type { ServiceFactory } from "../../src/api/context.ts";
import { createLocalModelFileStore } from "../../src/api/services/model-store.ts";
import { startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";

const GGUF = new URL("../../../shared/data/tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf", import.meta.url);
const GGUF_SHA256 = "c14806920629b6c217445c69d7ac61bd0e4047289f8ab824c3f0b4f827a5d1cb";

const REGISTER = `mutation($input: RegisterModelInput!) { registerModel(input: $input) {
  __typename
  ... on RegisterModelSuccess { model { id name kind format location sha256 sizeBytes vocabSize tokenizerHash config dimensionId } }
  ... on ModelFileInvalid { message location problem }
  ... on ValidationError { message field }
  ... on NotFoundError { message id }
} }`;

let api: TestApi;
let tenant: TestTenant;
let scratch: string;
let storeDir: string;

async function register(input: Record<string, unknown>, key = tenant.key) {
  return (await api.gqlOk<{ registerModel: Record<string, any> }>(REGISTER, { input }, key)).registerModel;
}

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "models-test-"));
  storeDir = join(scratch, "store");
  const factory: ServiceFactory = () => ({ modelFiles: createLocalModelFileStore(storeDir) });
  api = await startTestApi({ limits: { bodyLimitBytes: 4 * 1024 * 1024 }, serviceFactories: [factory] });
  tenant = await api.createTenantWithKey();
});
after(async () => {
  await api?.stop();
  await rm(scratch, { recursive: true, force: true });
});

describe("registerModel", () => {
  it("registers a GGUF file by file:// URL with format, size, sha256, vocabulary and tokenizer digest", async () => {
    const payload = await register({ name: "stories260k", kind: "BASE", location: GGUF.href });
    assert.equal(payload.__typename, "RegisterModelSuccess", JSON.stringify(payload));
    const model = payload.model;
    assert.equal(model.format, "GGUF");
    assert.equal(model.kind, "BASE");
    assert.equal(model.location, GGUF.href);
    assert.equal(model.sha256, GGUF_SHA256);
    assert.equal(model.sizeBytes, 1182656);
    assert.equal(model.vocabSize, 512);
    assert.match(model.tokenizerHash, /^[0-9a-f]{64}$/);
    assert.equal(model.config["general.architecture"], "llama");
    assert.equal(model.dimensionId, null);

    const byPath = await register({ name: "stories260k-arm", kind: "ARM_BASE", location: GGUF.pathname });
    assert.equal(byPath.__typename, "RegisterModelSuccess");
    assert.equal(byPath.model.tokenizerHash, model.tokenizerHash);
  });

  it("stores an inline upload and inspects it the same way", async () => {
    const bytes = await readFile(GGUF);
    const payload = await register({ name: "uploaded", kind: "BASE", upload: { fileName: "tiny.gguf", contentBase64: bytes.toString("base64") } });
    assert.equal(payload.__typename, "RegisterModelSuccess", JSON.stringify(payload));
    assert.equal(payload.model.sha256, GGUF_SHA256);
    assert.ok(payload.model.location.startsWith(pathToFileURL(storeDir).href), payload.model.location);
    const stored = await readFile(new URL(payload.model.location));
    assert.equal(stored.length, bytes.length);
  });

  it("registers an EVALUATOR for a dimension and requires that dimension", async () => {
    const dim = await api.gqlOk<{ createDimension: any }>(
      `mutation { createDimension(input: { name: "helpfulness" }) { ... on CreateDimensionSuccess { dimension { id } } } }`,
      {},
      tenant.key,
    );
    const dimensionId = dim.createDimension.dimension.id;
    const ok = await register({ name: "help-rm", kind: "EVALUATOR", location: GGUF.href, dimensionId });
    assert.equal(ok.__typename, "RegisterModelSuccess");
    assert.equal(ok.model.dimensionId, dimensionId);
    const without = await register({ name: "rm-without-dim", kind: "EVALUATOR", location: GGUF.href });
    assert.equal(without.__typename, "ValidationError");
    assert.equal(without.field, "input.dimensionId");
    const missingDim = Buffer.from("PreferenceDimension:00000000-0000-4000-8000-000000000000").toString("base64");
    const notFound = await register({ name: "rm-missing-dim", kind: "EVALUATOR", location: GGUF.href, dimensionId: missingDim });
    assert.equal(notFound.__typename, "NotFoundError");
    const baseWithDim = await register({ name: "base-with-dim", kind: "BASE", location: GGUF.href, dimensionId });
    assert.equal(baseWithDim.__typename, "ValidationError");
  });

  it("names the problem of an unusable location", async () => {
    const missing = pathToFileURL(join(scratch, "absent.gguf")).href;
    const notFound = await register({ name: "m1", kind: "BASE", location: missing });
    assert.equal(notFound.__typename, "ModelFileInvalid");
    assert.equal(notFound.problem, "NOT_FOUND");
    assert.equal(notFound.location, missing);
    assert.match(notFound.message, /absent\.gguf/);

    const relative = await register({ name: "m2", kind: "BASE", location: "models/x.gguf" });
    assert.equal(relative.problem, "UNSUPPORTED_LOCATION");

    const junk = join(scratch, "junk.bin");
    await writeFile(junk, "not a model at all");
    const unknown = await register({ name: "m3", kind: "BASE", location: junk });
    assert.equal(unknown.problem, "UNKNOWN_FORMAT");

    const truncated = join(scratch, "truncated.gguf");
    await writeFile(truncated, (await readFile(GGUF)).subarray(0, 3000));
    const corrupt = await register({ name: "m4", kind: "BASE", location: truncated });
    assert.equal(corrupt.problem, "CORRUPT_HEADER");

    const badUpload = await register({ name: "m5", kind: "BASE", upload: { fileName: "x.gguf", contentBase64: Buffer.from("GGUF").toString("base64") } });
    assert.equal(badUpload.__typename, "ModelFileInvalid");
    assert.equal(badUpload.problem, "CORRUPT_HEADER");
    assert.equal(badUpload.location, "upload:x.gguf");
    assert.doesNotMatch(badUpload.message, /parm-model-upload-/);
  });

  it("rejects both or neither of location and upload, a path-like upload name and a taken name", async () => {
    const neither = await register({ name: "n1", kind: "BASE" });
    assert.equal(neither.__typename, "ValidationError");
    assert.equal(neither.field, "input");
    const both = await register({ name: "n2", kind: "BASE", location: GGUF.href, upload: { fileName: "a.gguf", contentBase64: "R0dVRg==" } });
    assert.equal(both.__typename, "ValidationError");
    const sneaky = await register({ name: "n3", kind: "BASE", upload: { fileName: "../a.gguf", contentBase64: "R0dVRg==" } });
    assert.equal(sneaky.__typename, "ValidationError");
    assert.equal(sneaky.field, "input.upload.fileName");
    const taken = await register({ name: "stories260k", kind: "BASE", location: GGUF.href });
    assert.equal(taken.__typename, "ValidationError");
    assert.equal(taken.field, "input.name");
  });

  it("lists models, filtered by kind", async () => {
    const all = await api.gqlOk<{ models: any }>(`{ models(first: 50) { edges { node { name kind } } } }`, {}, tenant.key);
    assert.ok(all.models.edges.length >= 4);
    const evaluators = await api.gqlOk<{ models: any }>(`{ models(first: 50, kind: EVALUATOR) { edges { node { name kind } } } }`, {}, tenant.key);
    assert.deepEqual(evaluators.models.edges.map((e: any) => e.node.name), ["help-rm"]);
  });
});
