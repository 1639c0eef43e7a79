/**
 * The OpenAI-compatible API (`/v1`) through the official `openai` client against a real api server, PostgreSQL,
 * nats-server, event ingest and an in-process runner on stories260K: a PARM adapter is trained quickly through
 * GraphQL (PKU-SafeRLHF 16 records, 2 optimizer steps), then models are listed, completions and chat completions
 * run streamed and not, with `preference` / `preferences` as extra body fields, every request a Generation visible
 * in GraphQL; errors come back in OpenAI's shape; a streaming client that disconnects cancels its running job; with
 * the runner stopped, the concurrent-job quota answers 429 and a client that goes away (or a timed-out wait) cancels
 * its queued job.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { generateAdminKey } from "../../src/api/auth/index.ts";
import { objectStoreSnapshotWriter, startIngest, type Ingest } from "../../src/api/ingest/index.ts";
import { runnersServiceFactory } from "../../src/api/ingest/runners-resolver.ts";
import { mountModelUploadRoute } from "../../src/api/http/model-upload.ts";
import { openAiRoutes } from "../../src/api/openai/index.ts";
import { renderNamedChat } from "../../src/contracts/index.ts";
import { CHATML_TEMPLATE, withGgufStrings } from "../fixtures/chat-templates.ts";
import { createApiPubSub } from "../../src/api/pubsub/index.ts";
import { createApiServer, silentLogger, type ApiServer } from "../../src/api/server/index.ts";
import { localArtifactServiceFactory } from "../../src/api/services/context.ts";
import { ModelRoots } from "../../src/api/services/model-roots.ts";
import { connectJetStreamBus, type JobBus } from "../../src/bus/index.ts";
import { loadGguf } from "../../src/gpu-runner/engine/index.ts";
import { runnerNatsNames, type Runner } from "../../src/gpu-runner/runner/index.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { postGraphQL } from "../helpers/graphql.ts";
import { SHARED_DATA, STORIES_GGUF_PATH } from "../runner/fixtures.ts";
import { openHarness, waitFor, type Harness } from "../runner/harness.ts";

const PKU_PATH = new URL("pku-saferlhf/alpaca-7b.test.head16.jsonl", SHARED_DATA);
const ADAPTER = "helpful-harmless";
const BASE = "stories260k";

describe("OpenAI-compatible API with the official client", () => {
  let h: Harness;
  let testDb: TestDatabase;
  let bus: JobBus;
  let server: ApiServer;
  let ingest: Ingest;
  let runner: Runner;
  let dataDir: string;
  let adminKey: string;
  let key: string;
  let client: OpenAI;
  let timeoutMs = 60_000;
  const ids: { model?: string; adapter?: string; evaluator?: string } = {};

  const gql = async (query: string, variables: Record<string, unknown> = {}, as = key) => {
    const res = await postGraphQL<any>(server.graphqlUrl, query, variables, { key: as });
    if (res.errors?.length || !res.data) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors ?? res.body)}`);
    return res.data;
  };
  const clientFor = (apiKey: string) => new OpenAI({ apiKey, baseURL: `${server.url}/v1`, maxRetries: 0 });
  const generationNode = async (generationId: string) =>
    (
      await gql(
        `query($id: ID!) { node(id: $id) { ... on Generation { status prompt alphas adapterId baseModelId maxTokens sampling { temperature seed stop }
           outputs { alpha text tokenCount finishReason } job { status cancelRequested error } } } }`,
        { id: generationId },
      )
    ).node;
  const newTenant = async (name: string, input: Record<string, unknown> = {}) => {
    const t = await gql(
      `mutation($input: CreateTenantInput!) { createTenant(input: $input) { ... on CreateTenantSuccess { secret } ... on Error { message } } }`,
      { input: { name, ...input } },
      adminKey,
    );
    assert.ok(t.createTenant.secret, JSON.stringify(t));
    return t.createTenant.secret as string;
  };
  const expectApiError = async (run: () => Promise<unknown>, status: number) => {
    try {
      await run();
    } catch (error) {
      assert.ok(error instanceof OpenAI.APIError, String(error));
      assert.equal(error.status, status, JSON.stringify(error.error));
      return error;
    }
    assert.fail(`expected HTTP ${status}`);
  };

  before(async () => {
    h = await openHarness();
    testDb = await createTestDatabase();
    dataDir = mkdtempSync(join(tmpdir(), "parm-openai-"));
    bus = await connectJetStreamBus(h.url, { namespace: h.namespace, settings: { ackWaitMs: 2000, maxDeliver: 3 } });
    adminKey = generateAdminKey();
    const pubSub = createApiPubSub();
    ingest = await startIngest({ db: testDb.db, bus, pubSub, log: silentLogger, cancelPollMs: 200 });
    const artifacts = bus.artifacts;
    server = await createApiServer({
      db: testDb.db,
      bus,
      adminKey,
      pubSub,
      log: silentLogger,
      httpRoutes: [mountModelUploadRoute, openAiRoutes({ completionTimeoutMs: () => timeoutMs })],
      serviceFactories: [
        localArtifactServiceFactory(dataDir),
        runnersServiceFactory,
        () => ({ datasetSnapshots: objectStoreSnapshotWriter(artifacts, runnerNatsNames(h.namespace).artifactsStore) }),
        () => ({ modelRoots: new ModelRoots({ roots: [fileURLToPath(SHARED_DATA)], excluded: [dataDir, h.cacheRoot] }) }),
      ],
      defaultMetrics: false,
    });
    runner = await h.startRunner();
    key = await newTenant("openai", { maxConcurrentJobs: 20 });
    client = clientFor(key);
    await trainAdapter();
  });
  after(async () => {
    await runner?.stop();
    await ingest?.stop();
    await server?.stop();
    await bus?.close();
    await testDb?.drop();
    await h?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** Two dimensions, stories260K, PKU-SafeRLHF (16 records) and a 2-step PARM training: the adapter ADAPTER. */
  async function trainAdapter() {
    const dims: string[] = [];
    for (const name of ["harmless", "helpful"]) {
      const d = await gql(`mutation($n: String!) { createDimension(input: { name: $n, betaR: 0.1 }) { ... on CreateDimensionSuccess { dimension { id } } ... on Error { message } } }`, { n: name });
      dims.push(d.createDimension.dimension.id);
    }
    const m = await gql(
      `mutation($input: RegisterModelInput!) { registerModel(input: $input) { ... on RegisterModelSuccess { model { id } } ... on Error { message } } }`,
      { input: { name: BASE, kind: "BASE", location: STORIES_GGUF_PATH } },
    );
    ids.model = m.registerModel.model.id;
    const rm = await gql(
      `mutation($input: RegisterModelInput!) { registerModel(input: $input) { ... on RegisterModelSuccess { model { id } } ... on Error { message } } }`,
      { input: { name: "harmless-rm", kind: "EVALUATOR", location: STORIES_GGUF_PATH, dimensionId: dims[0] } },
    );
    ids.evaluator = rm.registerModel.model.id;
    const ds = await gql(
      `mutation($input: CreateDatasetInput!) { createDataset(input: $input) { ... on CreateDatasetSuccess { dataset { id } } ... on Error { message } } }`,
      {
        input: {
          name: "pku16", format: "PKU_SAFERLHF", splitRatios: { train: 0.75, validation: 0.25, test: 0 },
          labels: [{ label: "safer", dimensionId: dims[0] }, { label: "better", dimensionId: dims[1] }],
        },
      },
    );
    const datasetId = ds.createDataset.dataset.id;
    const up = await gql(
      `mutation($input: UploadDatasetInput!) { uploadDataset(input: $input) { ... on UploadDatasetSuccess { dataset { status } } ... on Error { message } } }`,
      { input: { datasetId, contentBase64: readFileSync(PKU_PATH).toString("base64") } },
    );
    assert.equal(up.uploadDataset.dataset?.status, "READY", JSON.stringify(up));
    const r = await gql(
      `mutation($input: StartTrainingInput!) { startTraining(input: $input) { __typename ... on StartTrainingSuccess { job { id } } ... on Error { message } } }`,
      {
        input: {
          adapterName: ADAPTER, method: "PARM", baseModelId: ids.model,
          dimensions: dims.map((dimensionId) => ({ dimensionId, datasetId })),
          r1: 2, r2: 2, loraAlpha: 4, targets: ["q_proj", "v_proj"], learningRate: 5e-3, epochs: 1, batchSize: 2, warmupSteps: 0,
          maxPromptLength: 24, maxLength: 48, checkpointEvery: 0, maxSteps: 2,
        },
      },
    );
    assert.equal(r.startTraining.__typename, "StartTrainingSuccess", JSON.stringify(r));
    const jobId = r.startTraining.job.id;
    const job = await waitFor("the training job", async () => {
      const node = (await gql(`query($id: ID!) { node(id: $id) { ... on Job { status error } } }`, { id: jobId })).node;
      return ["SUCCEEDED", "FAILED", "CANCELLED"].includes(node.status) ? node : null;
    }, 90_000);
    assert.equal(job.status, "SUCCEEDED", job.error);
    const { node: trained } = await gql(`query($id: ID!) { node(id: $id) { ... on Job { payload } } }`, { id: jobId });
    assert.deepEqual(trained.payload.promptTemplate, { kind: "named", name: "HH" }, "stories260K has no chat template: PKU prompts train in HH's turns");
    const adapters = await gql(`{ adapters(first: 5) { edges { node { id name } } } }`);
    ids.adapter = adapters.adapters.edges.find((e: any) => e.node.name === ADAPTER).node.id;
  }

  it("GET /v1/models lists the adapter (with its backbone and dimensions) and the base model; ids are names or global ids", async () => {
    const page = await client.models.list();
    const models = page.data as any[];
    assert.deepEqual(models.map((m) => m.id), [ADAPTER, BASE]);
    const [adapter, base] = models;
    assert.equal(adapter.object, "model");
    assert.deepEqual(adapter.parm, { id: ids.adapter, kind: "ADAPTER", method: "PARM", base_model: BASE, dimensions: ["harmless", "helpful"] });
    assert.deepEqual(base.parm, { id: ids.model, kind: "BASE" });
    assert.ok(Number.isInteger(base.created) && base.created > 1_600_000_000);
    assert.equal((await client.models.retrieve(BASE)).id, BASE);
    await expectApiError(() => client.models.retrieve("harmless-rm"), 404);
    await expectApiError(() => client.models.retrieve(ids.evaluator!), 404);
    assert.equal((await client.models.retrieve(ids.adapter!)).id, ADAPTER, "a global id finds the entry");
    const missing = await expectApiError(() => client.models.retrieve("gpt-4o"), 404);
    assert.equal(missing.code, "model_not_found");
    const other = clientFor(await newTenant("other"));
    assert.deepEqual((await other.models.list()).data, [], "another tenant sees none of them");
    await expectApiError(() => other.models.retrieve(ids.adapter!), 404);
  });

  it("POST /v1/completions with a base model alone: unguided text, usage, finish_reason; the request is a Generation", async () => {
    const completion = await client.completions.create({ model: BASE, prompt: "Once upon a time", max_tokens: 8 });
    assert.equal(completion.object, "text_completion");
    assert.equal(completion.model, BASE);
    assert.equal(completion.choices.length, 1);
    const [choice] = completion.choices;
    assert.ok(choice.text.length > 0);
    assert.ok(["stop", "length"].includes(choice.finish_reason));
    const generation = await generationNode((completion as any).generation_id);
    assert.equal(generation.status, "SUCCEEDED");
    assert.equal(generation.prompt, "Once upon a time");
    assert.equal(generation.adapterId, null);
    assert.deepEqual(generation.alphas, [[]]);
    assert.equal(generation.outputs[0].text, choice.text);
    assert.equal(completion.usage!.completion_tokens, generation.outputs[0].tokenCount);
    const promptTokens = (await loadGguf(STORIES_GGUF_PATH)).tokenizer.encode("Once upon a time", { bos: true }).length;
    assert.equal(completion.usage!.prompt_tokens, promptTokens, "the prompt's tokens as the runner decoded them (BOS included)");
    assert.equal(completion.usage!.total_tokens, completion.usage!.prompt_tokens + completion.usage!.completion_tokens);
    assert.equal(completion.id, `cmpl-${Buffer.from((completion as any).generation_id, "base64").toString().split(":")[1]}`);
  });

  it("streamed completions with `preferences` and n = 2: one α batch, choices v·n + j, final finish_reason chunks, usage, [DONE]", async () => {
    const stream = await client.completions.create({
      model: ADAPTER, prompt: "Once upon a time", max_tokens: 6, n: 2, stream: true, stream_options: { include_usage: true },
      preferences: [{ harmless: 1 }, [0, 1]],
    } as any as OpenAI.CompletionCreateParamsStreaming);
    const texts = ["", "", "", ""];
    const finish: (string | null)[] = [null, null, null, null];
    let usage: OpenAI.CompletionUsage | null | undefined;
    let generationId = "";
    for await (const chunk of stream) {
      generationId = (chunk as any).generation_id;
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        texts[c.index] += c.text;
        if (c.finish_reason) finish[c.index] = c.finish_reason;
      }
    }
    const generation = await generationNode(generationId);
    assert.equal(generation.status, "SUCCEEDED");
    assert.deepEqual(generation.alphas, [[1, 0], [0, 1]], "one α per preference vector, in α order");
    assert.equal(generation.adapterId, ids.adapter);
    assert.equal(generation.baseModelId, ids.model, "the adapter's backbone is the base");
    const [first, second] = generation.outputs;
    assert.deepEqual(texts, [first.text, first.text, second.text, second.text]);
    assert.deepEqual(finish, [first.finishReason, first.finishReason, second.finishReason, second.finishReason]);
    assert.equal(usage?.completion_tokens, 2 * (first.tokenCount + second.tokenCount));
  });

  it("sampled completions with n = 2 per vector: n independent seeded samples per α (choice v·n + j), each its own output", async () => {
    const request = { model: ADAPTER, prompt: "Once upon a time", max_tokens: 8, n: 2, temperature: 1.5, seed: 3, preferences: [[1, 0], [0, 1]] };
    const completion = await client.completions.create(request as any as OpenAI.CompletionCreateParamsNonStreaming);
    assert.deepEqual(completion.choices.map((c) => c.index), [0, 1, 2, 3]);
    assert.deepEqual(completion.choices.map((c) => (c as any).preference), [[1, 0], [1, 0], [0, 1], [0, 1]]);
    const generation = await generationNode((completion as any).generation_id);
    assert.equal(generation.outputs.length, 4, "one output per sample");
    assert.deepEqual(completion.choices.map((c) => c.text), generation.outputs.map((o: any) => o.text));
    assert.deepEqual(generation.outputs.map((o: any) => o.alpha), [[1, 0], [1, 0], [0, 1], [0, 1]]);
    assert.notEqual(completion.choices[0].text, completion.choices[1].text, "two samples of one vector differ");
    assert.equal(completion.usage!.completion_tokens, generation.outputs.reduce((sum: number, o: any) => sum + o.tokenCount, 0));
    const again = await client.completions.create(request as any as OpenAI.CompletionCreateParamsNonStreaming);
    assert.deepEqual(again.choices.map((c) => c.text), completion.choices.map((c) => c.text), "the same seed, the same samples");
  });

  it("chat completions with a `preference` object: HH-RLHF prompt, the turn stop, the α, an assistant message", async () => {
    const messages = [
      { role: "system" as const, content: "A story." },
      { role: "user" as const, content: "Tell me about a cat." },
    ];
    const completion = await client.chat.completions.create({ model: ADAPTER, messages, max_tokens: 6, preference: { helpful: 0.7, harmless: 0.3 } } as any as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.equal(completion.object, "chat.completion");
    assert.equal(completion.choices[0].message.role, "assistant");
    assert.deepEqual((completion.choices[0] as any).preference, [0.3, 0.7]);
    const generation = await generationNode((completion as any).generation_id);
    assert.equal(generation.prompt, renderNamedChat("HH", messages).prompt, "the adapter trained with the HH default");
    assert.ok(generation.prompt.endsWith("\n\nHuman: Tell me about a cat.\n\nAssistant:"));
    assert.deepEqual(generation.alphas, [[0.3, 0.7]]);
    assert.deepEqual(generation.sampling.stop, ["\n\nHuman:"]);
    assert.equal(completion.choices[0].message.content, generation.outputs[0].text);
    assert.equal(completion.choices[0].finish_reason, generation.outputs[0].finishReason);
  });

  it("chat completions through a model's own chat template (an uploaded GGUF with tokenizer.chat_template)", async () => {
    const upload = await fetch(`${server.url}/v1/models?${new URLSearchParams({ name: "stories-chatml", kind: "BASE", fileName: "chatml.gguf" })}`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/octet-stream" },
      body: withGgufStrings(readFileSync(STORIES_GGUF_PATH), { "tokenizer.chat_template": CHATML_TEMPLATE }),
    });
    assert.equal(upload.status, 201, await upload.clone().text());
    const messages = [
      { role: "developer" as const, content: "Tell a story." },
      { role: "user" as const, content: "A cat." },
    ];
    const completion = await client.chat.completions.create({ model: "stories-chatml", messages, max_tokens: 3 });
    const generation = await generationNode((completion as any).generation_id);
    assert.equal(generation.status, "SUCCEEDED");
    assert.equal(generation.prompt, "<|im_start|>system\nTell a story.<|im_end|>\n<|im_start|>user\nA cat.<|im_end|>\n<|im_start|>assistant\n");
    assert.deepEqual(generation.sampling.stop, [], "the template's turn ends with the EOS token");
    assert.equal(completion.choices[0].message.content, generation.outputs[0].text);
  });

  it("`base_model` guides another base model with the adapter", async () => {
    const copy = await gql(
      `mutation($input: RegisterModelInput!) { registerModel(input: $input) { ... on RegisterModelSuccess { model { id } } ... on Error { message } } }`,
      { input: { name: "stories-copy", kind: "ARM_BASE", location: STORIES_GGUF_PATH } },
    );
    const completion = await client.completions.create({ model: ADAPTER, prompt: "Once", max_tokens: 3, base_model: "stories-copy" } as any as OpenAI.CompletionCreateParamsNonStreaming);
    const generation = await generationNode((completion as any).generation_id);
    assert.equal(generation.baseModelId, copy.registerModel.model.id);
    assert.equal(generation.adapterId, ids.adapter);
    assert.equal(generation.status, "SUCCEEDED");
    const missing = await expectApiError(() => client.completions.create({ model: ADAPTER, prompt: "Once", base_model: "nope" } as any), 404);
    assert.deepEqual([missing.code, missing.param], ["model_not_found", "base_model"]);
  });

  it("streamed chat completions: the role first, content deltas that add up to the output, a finish_reason, sampling passed on", async () => {
    const stream = await client.chat.completions.create({
      model: ids.adapter!, messages: [{ role: "user", content: "Hi" }], max_completion_tokens: 6, temperature: 0.8, top_p: 0.9, seed: 11, stop: ["zzz"], stream: true,
      preference: [0.5, 0.5], beta: 2,
    } as any as OpenAI.ChatCompletionCreateParamsStreaming);
    let content = "";
    let role: string | undefined;
    let finish: string | null = null;
    let generationId = "";
    for await (const chunk of stream) {
      generationId = (chunk as any).generation_id;
      assert.equal(chunk.object, "chat.completion.chunk");
      const [c] = chunk.choices;
      if (c.delta.role) role ??= c.delta.role;
      content += c.delta.content ?? "";
      if (c.finish_reason) finish = c.finish_reason;
    }
    assert.equal(role, "assistant");
    const generation = await generationNode(generationId);
    assert.equal(content, generation.outputs[0].text);
    assert.equal(finish, generation.outputs[0].finishReason);
    assert.deepEqual(generation.sampling, { temperature: 0.8, seed: 11, stop: ["zzz"] });
    assert.equal(generation.maxTokens, 6);
  });

  it("errors in OpenAI's shape: 401, 403, 404 model_not_found, 400 with the param", async () => {
    const anonymous = await expectApiError(() => clientFor("parm_0000000000_nope").completions.create({ model: BASE, prompt: "x" }), 401);
    assert.equal(anonymous.code, "invalid_api_key");
    assert.equal((anonymous.error as any).type, "invalid_request_error");
    await expectApiError(() => clientFor(adminKey).models.list(), 403);
    const missing = await expectApiError(() => client.completions.create({ model: "nope", prompt: "x" }), 404);
    assert.deepEqual([missing.code, missing.param], ["model_not_found", "model"]);
    const cases: [Record<string, unknown>, string, string | null][] = [
      [{ model: ADAPTER, prompt: "x", preference: { helpful: 0.5 } }, "preference", "invalid_preference_vector"],
      [{ model: ADAPTER, prompt: "x", preferences: [[1, 0], [0.5]] }, "preferences[1]", "invalid_preference_vector"],
      [{ model: ADAPTER, prompt: "x", preference: { kind: 1 } }, "preference.kind", "invalid_preference_vector"],
      [{ model: BASE, prompt: "x", preference: [1] }, "preference", null],
      [{ model: BASE, prompt: "x", max_tokens: 100_000 }, "max_tokens", null],
      [{ model: BASE, prompt: "x", temperature: 0.5, n: 17 }, "n", null],
      [{ model: BASE, prompt: "x", temperature: 11 }, "temperature", null],
      [{ model: BASE, prompt: "" }, "prompt", null],
      [{ model: BASE, prompt: "x", logprobs: 1 }, "logprobs", null],
      [{ model: ADAPTER, prompt: "x", base_model: ADAPTER }, "base_model", null],
    ];
    for (const [body, param, code] of cases) {
      const error = await expectApiError(() => client.completions.create(body as any), 400);
      assert.deepEqual([error.param, error.code, (error.error as any).type], [param, code, "invalid_request_error"], JSON.stringify(body));
    }
    const chat = await expectApiError(() => client.chat.completions.create({ model: BASE, messages: [{ role: "tool", content: "x", tool_call_id: "t" }] }), 400);
    assert.equal(chat.param, "messages[0].role");
  });

  it("a prompt too long for the context fails its job: 400 context_length_exceeded, or an error event in a stream", async () => {
    const prompt = "Once upon a time there was a little cat. ".repeat(200);
    const error = await expectApiError(() => client.completions.create({ model: BASE, prompt, max_tokens: 8 }), 400);
    assert.deepEqual([error.code, error.param], ["context_length_exceeded", "prompt"]);
    assert.match(error.message, /PROMPT_TOO_LONG/);
    const stream = await client.chat.completions.create({ model: BASE, messages: [{ role: "user", content: prompt }], max_tokens: 8, stream: true });
    await assert.rejects(
      async () => {
        for await (const _ of stream) assert.fail("no chunk before the failure");
      },
      (e: unknown) => e instanceof OpenAI.APIError && (e.error as any)?.code === "context_length_exceeded" && (e.error as any)?.param === "messages",
    );
  });

  it("the tenant's mutation rate limit: 429 rate_limit_exceeded with Retry-After", async () => {
    const limited = clientFor(await newTenant("limited", { mutationsPerMinute: 1 }));
    await expectApiError(() => limited.completions.create({ model: "nope", prompt: "x" }), 404);
    const error = await expectApiError(() => limited.completions.create({ model: "nope", prompt: "x" }), 429);
    assert.equal(error.code, "rate_limit_exceeded");
    assert.ok(Number(error.headers?.get("retry-after")) >= 1);
    assert.equal((await limited.models.list()).data.length, 0, "listing models spends nothing");
  });

  it("a streaming client that disconnects while its job runs requests the job's cancellation", async () => {
    const stream = await client.completions.create({
      model: ADAPTER, prompt: "Once upon a time", max_tokens: 400, stream: true, preferences: [[1, 0], [0.75, 0.25], [0.5, 0.5], [0.25, 0.75], [0, 1]],
    } as any as OpenAI.CompletionCreateParamsStreaming);
    let generationId = "";
    for await (const chunk of stream) {
      generationId = (chunk as any).generation_id;
      break; // leaving the loop aborts the request
    }
    const job = await waitFor("the job's cancellation to be requested", async () => {
      const { job } = await generationNode(generationId);
      return job.cancelRequested ? job : null;
    }, 10_000);
    assert.ok(["RUNNING", "CANCELLED"].includes(job.status), job.status);
    const ended = await waitFor("the job to end", async () => {
      const { job } = await generationNode(generationId);
      return ["SUCCEEDED", "FAILED", "CANCELLED"].includes(job.status) ? job : null;
    }, 30_000);
    assert.equal(ended.status, "CANCELLED", "the runner stops the cancelled job");
  });

  it("without a runner: the concurrent-job quota answers 429; a client that goes away or a timed-out wait cancels its job", async () => {
    await runner.stop();
    const quotaKey = await newTenant("quota", { maxConcurrentJobs: 1 });
    await gql(`mutation($input: RegisterModelInput!) { registerModel(input: $input) { __typename } }`, { input: { name: BASE, kind: "BASE", location: STORIES_GGUF_PATH } }, quotaKey);
    const quota = clientFor(quotaKey);
    const queued = await quota.completions.create({ model: BASE, prompt: "Once", max_tokens: 4, stream: true });
    const full = await expectApiError(() => quota.completions.create({ model: BASE, prompt: "Once", max_tokens: 4 }), 429);
    assert.equal(full.code, "concurrent_jobs_exceeded");
    assert.equal(full.headers?.get("retry-after"), "30");
    queued.controller.abort();
    const jobs = async (status: string) =>
      (await postGraphQL<any>(server.graphqlUrl, `query($s: JobStatus) { jobs(first: 10, status: $s) { edges { node { id status cancelRequested error } } } }`, { s: status }, { key: quotaKey })).data.jobs.edges.map((e: any) => e.node);
    const [cancelled] = await waitFor("the abandoned stream's job to be cancelled", async () => ((await jobs("CANCELLED")).length === 1 ? jobs("CANCELLED") : null), 10_000);
    assert.equal(cancelled.cancelRequested, true);
    assert.match(cancelled.error, /cancelled before a runner started it/);

    const waiting = new AbortController();
    const abandoned = quota.completions.create({ model: BASE, prompt: "Once", max_tokens: 4 }, { signal: waiting.signal });
    await waitFor("the second job to be queued", async () => (await jobs("QUEUED")).length === 1);
    waiting.abort();
    await assert.rejects(abandoned, OpenAI.APIUserAbortError);
    await waitFor("the abandoned wait's job to be cancelled", async () => (await jobs("CANCELLED")).length === 2, 10_000);

    timeoutMs = 500;
    const timedOut = await expectApiError(() => quota.completions.create({ model: BASE, prompt: "Once", max_tokens: 4 }), 504);
    assert.equal(timedOut.code, "generation_timeout");
    assert.equal(timedOut.headers?.get("x-should-retry"), "false");
    await waitFor("the timed-out job to be cancelled", async () => (await jobs("CANCELLED")).length === 3, 10_000);
    assert.deepEqual(await jobs("QUEUED"), []);
  });
});
