/** @module test/api/models — registerModel (by location and inline upload) and the models query, over a real API. */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ServiceFactory } from "../../src/api/context.ts";
import { createLocalModelFileStore } from "../../src/api/services/model-store.ts";
import { SHARED_DATA_DIR, startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";
import { CHATML_TEMPLATE, withGgufStrings, writeGgufWithStrings } from "../fixtures/chat-templates.ts";

const GGUF = new URL("../../../shared/data/tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf", import.meta.url);
const GGUF_SHA256 = "c14806920629b6c217445c69d7ac61bd0e4047289f8ab824c3f0b4f827a5d1cb";

const REGISTER = `mutation($input: RegisterModelInput!) { registerModel(input: $input) {
  __typename
  ... on RegisterModelSuccess { model { id name kind format location sha256 sizeBytes storedBytes vocabSize tokenizerHash config promptTemplate dimensionId } }
  ... on ModelFileInvalid { message location problem }
  ... on ValidationError { message field }
  ... on NotFoundError { message id }
} }`;

const uuidOf = (globalId: string) => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;

let api: TestApi;
let tenant: TestTenant;
let scratch: string;
let storeDir: string;
/** A tenant-visible model root, and the platform's data dir (excluded) holding the upload store and a runner cache. */
let rootDir: string;
let dataDir: string;

async function register(input: Record<string, unknown>, key = tenant.key) {
  return (await api.gqlOk<{ registerModel: Record<string, any> }>(REGISTER, { input }, key)).registerModel;
}

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "models-test-"));
  rootDir = join(scratch, "roots");
  dataDir = join(scratch, "data");
  storeDir = join(dataDir, "models");
  await mkdir(rootDir, { recursive: true });
  const factory: ServiceFactory = () => ({ modelFiles: createLocalModelFileStore(storeDir) });
  api = await startTestApi({
    limits: { bodyLimitBytes: 4 * 1024 * 1024 },
    serviceFactories: [factory],
    modelRoots: { roots: [SHARED_DATA_DIR, rootDir], excluded: [dataDir] },
  });
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
    assert.equal(model.storedBytes, null, "a file registered by location is not stored by the platform");
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
    assert.equal(payload.model.storedBytes, bytes.length);
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
    const missing = pathToFileURL(join(rootDir, "absent.gguf")).href;
    const notFound = await register({ name: "m1", kind: "BASE", location: missing });
    assert.equal(notFound.__typename, "ModelFileInvalid");
    assert.equal(notFound.problem, "LOCATION_REFUSED");
    assert.equal(notFound.location, missing);

    const relative = await register({ name: "m2", kind: "BASE", location: "models/x.gguf" });
    assert.equal(relative.problem, "UNSUPPORTED_LOCATION");

    const junk = join(rootDir, "junk.bin");
    await writeFile(junk, "not a model at all");
    const unknown = await register({ name: "m3", kind: "BASE", location: junk });
    assert.equal(unknown.problem, "UNKNOWN_FORMAT");

    const truncated = join(rootDir, "truncated.gguf");
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

describe("registerModel by location: only files under the model roots", () => {
  const REFUSED = "LOCATION_REFUSED";

  it("refuses host files, symlink escapes, the data dir and a runner cache with one answer that says nothing about the path", async () => {
    const cacheFile = join(dataDir, "runner-cache", "sha256", GGUF_SHA256);
    await mkdir(join(dataDir, "runner-cache", "sha256"), { recursive: true });
    await writeFile(cacheFile, await readFile(GGUF));
    await symlink("/etc/passwd", join(rootDir, "passwd.gguf"));
    await symlink(cacheFile, join(rootDir, "cached.gguf"));
    await symlink(dataDir, join(rootDir, "data-link"));
    const hostile = [
      "/etc/shadow",
      "/etc/passwd",
      "file:///etc/shadow",
      "/nonexistent/model.gguf",
      "/etc",
      cacheFile,
      pathToFileURL(cacheFile).href,
      join(rootDir, "passwd.gguf"),
      join(rootDir, "cached.gguf"),
      join(rootDir, "data-link", "runner-cache", "sha256", GGUF_SHA256),
      join(rootDir, "..", "data", "runner-cache", "sha256", GGUF_SHA256),
      rootDir,
    ];
    const answers = new Set<string>();
    for (const [i, location] of hostile.entries()) {
      const payload = await register({ name: `hostile-${i}`, kind: "EVALUATOR", location });
      assert.equal(payload.field, "input.dimensionId", "what needs no file is checked before the path is touched");
    }
    for (const [i, location] of hostile.entries()) {
      const payload = await register({ name: `hostile-${i}`, kind: "BASE", location });
      assert.equal(payload.__typename, "ModelFileInvalid", `${location}: ${JSON.stringify(payload)}`);
      assert.equal(payload.problem, REFUSED, location);
      answers.add(payload.message.replace(location, "<location>"));
    }
    assert.equal(answers.size, 1, `one message for every refused path: ${[...answers].join(" | ")}`);
    const names = await api.gqlOk<{ models: any }>(`{ models(first: 100) { edges { node { name } } } }`, {}, tenant.key);
    assert.ok(!names.models.edges.some((e: any) => e.node.name.startsWith("hostile-")), "nothing was registered");
  });

  it("stores the canonical real location of a file reached through a symlink or dot segments inside the roots", async () => {
    await symlink(fileURLToPath(GGUF), join(rootDir, "alias.gguf"));
    const payload = await register({ name: "via-link", kind: "BASE", location: join(rootDir, "alias.gguf") });
    assert.equal(payload.__typename, "RegisterModelSuccess", "the link points into another root");
    assert.equal(payload.model.location, GGUF.href, "the row keeps the link's real target, not the link");
    const inShared = await register({ name: "via-dots", kind: "BASE", location: join(SHARED_DATA_DIR, "tinyllamas-stories260k", "..", "tinyllamas-stories260k", "tinyllamas-stories-260k-f32.gguf") });
    assert.equal(inShared.__typename, "RegisterModelSuccess", JSON.stringify(inShared));
    assert.equal(inShared.model.location, GGUF.href, "dot segments resolve to the canonical file:// URL");
  });

  it("does not let a second tenant register the first tenant's upload by its stored location", async () => {
    const owner = await api.createTenantWithKey();
    const other = await api.createTenantWithKey();
    const bytes = await readFile(GGUF);
    const uploaded = await register({ name: "private", kind: "BASE", upload: { fileName: "p.gguf", contentBase64: bytes.toString("base64") } }, owner.key);
    assert.equal(uploaded.__typename, "RegisterModelSuccess");
    const stolen = await register({ name: "stolen", kind: "BASE", location: uploaded.model.location }, other.key);
    assert.equal(stolen.__typename, "ModelFileInvalid");
    assert.equal(stolen.problem, REFUSED);
  });
});

describe("registerModel: prompt templates", () => {
  it("stores the GGUF's own chat template (with its BOS / EOS strings) in config; a model without one names its format or gets none", async () => {
    const t = await api.createTenantWithKey();
    const path = join(rootDir, "chatml.gguf");
    await writeGgufWithStrings(GGUF, path, { "tokenizer.chat_template": CHATML_TEMPLATE });
    const own = await register({ name: "chatml", kind: "BASE", location: path }, t.key);
    assert.equal(own.__typename, "RegisterModelSuccess", JSON.stringify(own));
    assert.equal(own.model.config.chatTemplate, CHATML_TEMPLATE);
    assert.deepEqual([own.model.config.chatTemplateSource, own.model.config.bosToken, own.model.config.eosToken], ["gguf", "<s>", "</s>"]);
    assert.equal(own.model.promptTemplate, null);
    const pku = await register({ name: "pku-format", kind: "ARM_BASE", location: GGUF.href, promptTemplate: "PKU" }, t.key);
    assert.equal(pku.__typename, "RegisterModelSuccess", JSON.stringify(pku));
    assert.equal(pku.model.promptTemplate, "PKU");
    assert.equal(pku.model.config.chatTemplate, undefined);
    const row = await api.db.system.model.findFirst({ where: { id: uuidOf(pku.model.id) } });
    assert.equal(row?.promptTemplate, "PKU");
    const none = await register({ name: "no-format", kind: "BASE", location: GGUF.href }, t.key);
    assert.equal(none.model.promptTemplate, null);
  });

  it("refuses a named template for a file with its own and for an EVALUATOR; a broken own template is kept out with its reason", async () => {
    const t = await api.createTenantWithKey();
    const path = join(rootDir, "chatml-2.gguf");
    await writeGgufWithStrings(GGUF, path, { "tokenizer.chat_template": CHATML_TEMPLATE });
    const both = await register({ name: "both", kind: "BASE", location: path, promptTemplate: "HH" }, t.key);
    assert.equal(both.__typename, "ValidationError");
    assert.equal(both.field, "input.promptTemplate");
    assert.match(both.message, /its own chat template \(gguf\)/);
    const dim = await api.gqlOk<any>(`mutation { createDimension(input: { name: "d" }) { ... on CreateDimensionSuccess { dimension { id } } } }`, {}, t.key);
    const evaluator = await register({ name: "rm", kind: "EVALUATOR", location: GGUF.href, dimensionId: dim.createDimension.dimension.id, promptTemplate: "PKU" }, t.key);
    assert.equal(evaluator.__typename, "ValidationError");
    assert.equal(evaluator.field, "input.promptTemplate");
    const brokenPath = join(rootDir, "broken-template.gguf");
    await writeGgufWithStrings(GGUF, brokenPath, { "tokenizer.chat_template": "{% for m in %}" });
    const broken = await register({ name: "broken", kind: "BASE", location: brokenPath, promptTemplate: "PKU" }, t.key);
    assert.equal(broken.__typename, "RegisterModelSuccess", JSON.stringify(broken));
    assert.equal(broken.model.config.chatTemplate, undefined);
    assert.match(broken.model.config.chatTemplateProblem, /does not parse/);
    assert.equal(broken.model.promptTemplate, "PKU");
    const names = await api.gqlOk<{ models: any }>(`{ models(first: 10) { edges { node { name } } } }`, {}, t.key);
    assert.deepEqual(names.models.edges.map((e: any) => e.node.name), ["broken"]);
  });
});

describe("POST /v1/models: streamed uploads within the tenant's model quota", () => {
  const uploadUrl = (params: Record<string, string>) => `${api.url}/v1/models?${new URLSearchParams(params)}`;
  async function post(params: Record<string, string>, body: Buffer | ReadableStream<Uint8Array>, key: string | null, headers: Record<string, string> = {}) {
    const res = await fetch(uploadUrl(params), {
      method: "POST",
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), "content-type": "application/octet-stream", ...headers },
      body,
      duplex: "half",
    } as RequestInit);
    return { status: res.status, json: (await res.json()) as Record<string, any> };
  }
  function chunked(bytes: Buffer, chunk = 64 * 1024): ReadableStream<Uint8Array> {
    let offset = 0;
    return new ReadableStream({
      pull(controller) {
        if (offset >= bytes.length) return controller.close();
        controller.enqueue(bytes.subarray(offset, offset + chunk));
        offset += chunk;
      },
    });
  }
  async function storedFiles(tenantUuid: string): Promise<string[]> {
    return await readdir(join(storeDir, "models", tenantUuid), { recursive: true }).catch(() => []);
  }

  it("registers a model larger than the GraphQL body limit, streamed without a Content-Length", async () => {
    const t = await api.createTenantWithKey();
    const bytes = await readFile(GGUF);
    assert.ok(bytes.length > 1024 * 1024, "stories260K does not fit a 1 MiB GraphQL body");
    const { status, json } = await post({ name: "streamed", kind: "BASE", fileName: "stories.gguf" }, chunked(bytes), t.key);
    assert.equal(status, 201, JSON.stringify(json));
    assert.equal(json.model.sha256, GGUF_SHA256);
    assert.equal(json.model.storedBytes, bytes.length);
    assert.equal(json.model.vocabSize, 512);
    const listed = await api.gqlOk<{ models: any }>(`{ models(first: 5) { edges { node { id name storedBytes format } } } }`, {}, t.key);
    assert.deepEqual(listed.models.edges.map((e: any) => e.node), [{ id: json.model.id, name: "streamed", storedBytes: bytes.length, format: "GGUF" }]);
    assert.equal((await storedFiles(t.uuid)).filter((f) => f.endsWith("stories.gguf")).length, 1);
  });

  it("refuses an upload past maxModelBytes, by Content-Length before reading and mid-stream without one; nothing is stored", async () => {
    const t = await api.createTenantWithKey(undefined, { maxModelBytes: 1_500_000 });
    const bytes = await readFile(GGUF);
    const first = await post({ name: "first", kind: "BASE", fileName: "a.gguf" }, bytes, t.key);
    assert.equal(first.status, 201, JSON.stringify(first.json));
    const declared = await post({ name: "second", kind: "BASE", fileName: "b.gguf" }, bytes, t.key);
    assert.equal(declared.status, 413);
    assert.equal(declared.json.error.type, "QuotaExceeded");
    assert.equal(declared.json.error.quota, "maxModelBytes");
    assert.equal(declared.json.error.limit, 1_500_000);
    const streamed = await post({ name: "third", kind: "BASE", fileName: "c.gguf" }, chunked(bytes), t.key);
    assert.equal(streamed.status, 413, JSON.stringify(streamed.json));
    assert.equal(streamed.json.error.quota, "maxModelBytes");
    const inline = await register({ name: "fourth", kind: "BASE", upload: { fileName: "d.gguf", contentBase64: bytes.toString("base64") } }, t.key);
    assert.equal(inline.__typename, "QuotaExceeded", "inline uploads count against the same quota");
    const names = await api.gqlOk<{ models: any }>(`{ models(first: 10) { edges { node { name } } } }`, {}, t.key);
    assert.deepEqual(names.models.edges.map((e: any) => e.node.name), ["first"]);
    assert.deepEqual((await storedFiles(t.uuid)).filter((f) => f.endsWith(".gguf")), [`${GGUF_SHA256}/a.gguf`]);
    const { tenants } = await api.gqlOk<{ tenants: any }>(`{ tenants(first: 100) { edges { node { id maxModelBytes } } } }`, {}, api.adminKey);
    assert.equal(tenants.edges.find((e: any) => e.node.id === t.id).node.maxModelBytes, 1_500_000);
  });

  it("takes promptTemplate (hh, pku, plain) and stores an uploaded GGUF's own chat template; a refused one stores nothing", async () => {
    const t = await api.createTenantWithKey();
    const bytes = await readFile(GGUF);
    const named = await post({ name: "plain-format", kind: "BASE", fileName: "p.gguf", promptTemplate: "plain" }, bytes, t.key);
    assert.equal(named.status, 201, JSON.stringify(named.json));
    assert.equal(named.json.model.promptTemplate, "PLAIN");
    const withTemplate = withGgufStrings(bytes, { "tokenizer.chat_template": CHATML_TEMPLATE });
    const own = await post({ name: "own-template", kind: "BASE", fileName: "c.gguf" }, withTemplate, t.key);
    assert.equal(own.status, 201, JSON.stringify(own.json));
    assert.equal(own.json.model.config.chatTemplate, CHATML_TEMPLATE);
    const refused = await post({ name: "refused", kind: "BASE", fileName: "r.gguf", promptTemplate: "pku" }, withTemplate, t.key);
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error.field, "promptTemplate");
    const unknown = await post({ name: "unknown", kind: "BASE", fileName: "u.gguf", promptTemplate: "alpaca" }, bytes, t.key);
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json.error.field, "promptTemplate");
    assert.match(unknown.json.error.message, /hh, pku, plain/);
    assert.equal((await storedFiles(t.uuid)).filter((f) => f.endsWith("r.gguf") || f.endsWith("u.gguf")).length, 0, "refused uploads store nothing");
  });

  it("answers bad parameters, a non-model body, another tenant's dimension and a missing key with typed errors", async () => {
    const t = await api.createTenantWithKey();
    const other = await api.createTenantWithKey();
    const dim = await api.gqlOk<{ createDimension: any }>(
      `mutation { createDimension(input: { name: "theirs" }) { ... on CreateDimensionSuccess { dimension { id } } } }`,
      {},
      other.key,
    );
    const body = await readFile(GGUF);
    const cases: [Record<string, string>, Buffer, number, string, string | null][] = [
      [{ kind: "BASE", fileName: "a.gguf" }, body, 400, "ValidationError", "name"],
      [{ name: "x", kind: "LM", fileName: "a.gguf" }, body, 400, "ValidationError", "kind"],
      [{ name: "x", kind: "BASE" }, body, 400, "ValidationError", "fileName"],
      [{ name: "x", kind: "BASE", fileName: "../a.gguf" }, body, 400, "ValidationError", "fileName"],
      [{ name: "x", kind: "EVALUATOR", fileName: "a.gguf", dimensionId: "nope" }, body, 400, "ValidationError", "dimensionId"],
      [{ name: "x", kind: "EVALUATOR", fileName: "a.gguf", dimensionId: dim.createDimension.dimension.id }, body, 404, "NotFoundError", null],
      [{ name: "x", kind: "BASE", fileName: "a.gguf" }, Buffer.alloc(0), 400, "ValidationError", "body"],
      [{ name: "x", kind: "BASE", fileName: "a.gguf" }, Buffer.from("not a model"), 422, "ModelFileInvalid", null],
    ];
    for (const [params, payload, status, type, field] of cases) {
      const res = await post(params, payload, t.key);
      assert.equal(res.status, status, `${JSON.stringify(params)}: ${JSON.stringify(res.json)}`);
      assert.equal(res.json.error.type, type);
      if (field !== null) assert.equal(res.json.error.field, field);
    }
    const anonymous = await post({ name: "x", kind: "BASE", fileName: "a.gguf" }, body, null);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.json.errors[0].extensions.code, "UNAUTHENTICATED");
    const admin = await post({ name: "x", kind: "BASE", fileName: "a.gguf" }, body, api.adminKey);
    assert.equal(admin.status, 403);
    assert.deepEqual(await storedFiles(t.uuid), [], "nothing was stored");
    const names = await api.gqlOk<{ models: any }>(`{ models(first: 10) { edges { node { name } } } }`, {}, t.key);
    assert.deepEqual(names.models.edges, []);
    assert.equal((await api.gql(`{ viewer { __typename } }`, {}, t.key)).status, 200, "the server is still up");
  });
});
