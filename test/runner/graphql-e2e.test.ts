/**
 * End to end through GraphQL with a real runner, on both buses `npm start` can choose:
 * - JetStream: a nats-server, the runner in this process (engine in a worker thread);
 * - in-process (PARM_BUS=inprocess, or no nats-server installed): the api's in-process bus in this process and the
 *   runner as npm start runs it — a child process (`startEmbeddedRunner`) whose bus reaches this one over IPC.
 * Each registers stories260K, creates two dimensions, uploads small HH-RLHF slices (helpful-base, harmless-base),
 * trains PARM (capped by maxSteps) while a `jobEvents` subscription streams progress, generates with two α (tokens
 * over `generationTokens`), trains one evaluator per dimension, and runs a 3-point evaluation (points over
 * `evaluationPoints`, HV / MIP stored); then downloads what the runner stored through `/v1/files/…` (adapter,
 * evaluators, checkpoint, report JSON, Pareto plot, dataset records). Real PostgreSQL, api server and ingest.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { generateAdminKey } from "../../src/api/auth/index.ts";
import { startEmbeddedRunner, type EmbeddedRunner } from "../../src/api/embedded-runner.ts";
import { objectStoreSnapshotWriter, startIngest, type Ingest } from "../../src/api/ingest/index.ts";
import { createApiPubSub } from "../../src/api/pubsub/index.ts";
import { runnersServiceFactory } from "../../src/api/ingest/runners-resolver.ts";
import { runnerNatsNames } from "../../src/gpu-runner/runner/index.ts";
import { createApiServer, silentLogger, type ApiServer } from "../../src/api/server/index.ts";
import { localArtifactServiceFactory } from "../../src/api/services/context.ts";
import { ModelRoots } from "../../src/api/services/model-roots.ts";
import { fileURLToPath } from "node:url";
import { connectJetStreamBus, createInProcessBus, readArtifact, type JobBus } from "../../src/bus/index.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { nextWithin, openGraphQLSocket, postGraphQL, type GraphQLSocket } from "../helpers/graphql.ts";
import { SHARED_DATA, STORIES_GGUF_PATH } from "./fixtures.ts";
import { openHarness, waitFor, type Harness } from "./harness.ts";

const uuidOf = (globalId: string) => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;

function hhSlice(file: string, lines: number): string {
  const text = gunzipSync(readFileSync(new URL(`hh-rlhf/${file}`, SHARED_DATA))).toString("utf8");
  return Buffer.from(text.split("\n").slice(0, lines).join("\n") + "\n").toString("base64");
}

/** One way to run the bus and the runner: opens them (after the database) and says what the runner looks like. */
interface Variant {
  readonly name: string;
  /** The bus the api uses, the bucket name its snapshot locations name, folders to keep out of the model roots. */
  open(): Promise<{ bus: JobBus; bucketName: string; excluded: string[] }>;
  /** Starts the runner once the api is up; resolves with its id when its heartbeat is on the bus. */
  startRunner(bus: JobBus): Promise<string>;
  /** The runner's deviceName in the runners query. */
  readonly deviceName: RegExp;
  close(): Promise<void>;
}

function jetStreamVariant(): Variant {
  let h: Harness;
  let bus: JobBus;
  return {
    name: "JetStream, runner in this process",
    async open() {
      h = await openHarness();
      bus = await connectJetStreamBus(h.url, { namespace: h.namespace, settings: { ackWaitMs: 2000, maxDeliver: 3 } });
      return { bus, bucketName: runnerNatsNames(h.namespace).artifactsStore, excluded: [h.cacheRoot] };
    },
    async startRunner() {
      return (await h.startRunner()).id;
    },
    deviceName: /^test-cpu$/,
    async close() {
      await bus?.close();
      await h?.close(); // stops the runner first
    },
  };
}

function inProcessVariant(): Variant {
  let dir: string;
  let bus: JobBus;
  let runner: EmbeddedRunner | null = null;
  const runnerId = `e2e-ipc-${process.pid}`;
  return {
    name: "in-process bus, runner in a child process over IPC (PARM_BUS=inprocess)",
    async open() {
      dir = mkdtempSync(join(tmpdir(), "parm-e2e-inprocess-"));
      bus = createInProcessBus({ settings: { ackWaitMs: 2000, maxDeliver: 3 }, artifactsDir: join(dir, "artifacts") });
      return { bus, bucketName: "artifacts", excluded: [dir] };
    },
    async startRunner(api) {
      runner = startEmbeddedRunner({
        bus: api,
        dataDir: dir,
        log: silentLogger,
        env: { PARM_RUNNER_ID: runnerId, PARM_RUNNER_THREADS: "1", PARM_RUNNER_CACHE_DIR: join(dir, "runner-cache") },
      });
      await waitFor("the child runner's heartbeat", async () => (await api.runners.list()).some((e) => e.runnerId === runnerId), 120_000);
      return runnerId;
    },
    deviceName: /\S/,
    async close() {
      await runner?.stop();
      await bus?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

for (const variant of [jetStreamVariant(), inProcessVariant()]) {
  describe(`GraphQL end to end with a runner: ${variant.name}`, () => {
    let testDb: TestDatabase;
    let bus: JobBus;
    let server: ApiServer;
    let ingest: Ingest;
    let runnerId: string;
    let dataDir: string;
    let key: string;
    let adminKey: string;
    const sockets: GraphQLSocket[] = [];
    const ids: { dims: string[]; model: string; datasets: string[]; adapter?: string; trainJob?: string; evaluation?: string; evaluators: string[] } = { dims: [], model: "", datasets: [], evaluators: [] };

    /** The bytes of an object in the bus's artifact store, or null. */
    const stored = async (objectKey: string) => {
      const stream = await bus.artifacts.get(objectKey);
      return stream ? readArtifact(stream) : null;
    };
    const gql = async (query: string, variables: Record<string, unknown> = {}, as = key) => {
      const res = await postGraphQL<any>(server.graphqlUrl, query, variables, { key: as });
      if (res.errors?.length || !res.data) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors ?? res.body)}`);
      return res.data;
    };
    const subscribe = async (query: string, variables: Record<string, unknown>) => {
      const socket = openGraphQLSocket(server.wsUrl, { key });
      sockets.push(socket);
      await socket.connected;
      return socket.iterate<any>(query, variables);
    };
    const jobStatus = async (jobId: string) => (await gql(`query($id: ID!) { node(id: $id) { ... on Job { status error progress } } }`, { id: jobId })).node;
    const waitJob = (jobId: string, ms = 90_000) =>
      waitFor(`job ${jobId} to finish`, async () => {
        const job = await jobStatus(jobId);
        return ["SUCCEEDED", "FAILED", "CANCELLED"].includes(job.status) ? job : null;
      }, ms);

    before(async () => {
      testDb = await createTestDatabase();
      dataDir = mkdtempSync(join(tmpdir(), "parm-e2e-"));
      const opened = await variant.open();
      bus = opened.bus;
      adminKey = generateAdminKey();
      // Wired like src/api/main.ts: ingest first; dataset snapshots go to the object store (runners read obj://).
      const pubSub = createApiPubSub();
      ingest = await startIngest({ db: testDb.db, bus, pubSub, log: silentLogger, cancelPollMs: 200 });
      const artifacts = bus.artifacts;
      server = await createApiServer({
        db: testDb.db,
        bus,
        adminKey,
        pubSub,
        log: silentLogger,
        serviceFactories: [
          localArtifactServiceFactory(dataDir),
          runnersServiceFactory,
          () => ({ datasetSnapshots: objectStoreSnapshotWriter(artifacts, opened.bucketName) }),
          () => ({ modelRoots: new ModelRoots({ roots: [fileURLToPath(SHARED_DATA)], excluded: [dataDir, ...opened.excluded] }) }),
        ],
        defaultMetrics: false,
      });
      runnerId = await variant.startRunner(bus);
      const t = await gql(
        `mutation($input: CreateTenantInput!) { createTenant(input: $input) { ... on CreateTenantSuccess { secret } ... on Error { message } } }`,
        { input: { name: "e2e", maxConcurrentJobs: 20 } },
        adminKey,
      );
      key = t.createTenant.secret;
      assert.ok(key, JSON.stringify(t));
    });
    after(async () => {
      await Promise.all(sockets.map((s) => s.dispose().catch(() => undefined)));
      await ingest?.stop();
      await server?.stop();
      await variant.close();
      await testDb?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it("the admin runners query lists the runner from its heartbeat; tenants may not read it", async () => {
      const data = await gql(`{ runners { runnerId device deviceName threads kinds totalSlots freeSlots loadedModels runningJobIds ageSeconds } }`, {}, adminKey);
      assert.equal(data.runners.length, 1);
      const [r] = data.runners;
      assert.equal(r.runnerId, runnerId);
      assert.deepEqual([r.device, r.threads, r.totalSlots, r.freeSlots], ["cpu", 1, 1, 1]);
      assert.match(r.deviceName, variant.deviceName);
      assert.equal(r.kinds.length, 4);
      assert.ok(r.ageSeconds >= 0 && r.ageSeconds < 10);
      const denied = await postGraphQL<any>(server.graphqlUrl, `{ runners { runnerId } }`, {}, { key });
      assert.equal(denied.errors?.[0]?.extensions?.code, "FORBIDDEN");
    });

    it("registers stories260K, two dimensions and two HH-RLHF slices", async () => {
      for (const name of ["harmlessness", "helpfulness"]) {
        const d = await gql(`mutation($n: String!) { createDimension(input: { name: $n, betaR: 0.1 }) { ... on CreateDimensionSuccess { dimension { id } } ... on Error { message } } }`, { n: name });
        assert.ok(d.createDimension.dimension, JSON.stringify(d));
        ids.dims.push(d.createDimension.dimension.id);
      }
      const m = await gql(
        `mutation($input: RegisterModelInput!) { registerModel(input: $input) { ... on RegisterModelSuccess { model { id vocabSize } } ... on Error { message } } }`,
        { input: { name: "stories260k", kind: "BASE", location: STORIES_GGUF_PATH } },
      );
      assert.equal(m.registerModel.model?.vocabSize, 512, JSON.stringify(m));
      ids.model = m.registerModel.model.id;
      for (const [i, file] of ["harmless-base.test.jsonl.gz", "helpful-base.test.jsonl.gz"].entries()) {
        const ds = await gql(
          `mutation($input: CreateDatasetInput!) { createDataset(input: $input) { ... on CreateDatasetSuccess { dataset { id } } ... on Error { message } } }`,
          { input: { name: file, format: "HH_RLHF", splitRatios: { train: 0.6, validation: 0.2, test: 0.2 }, labels: [{ label: "preferred", dimensionId: ids.dims[i] }] } },
        );
        const datasetId = ds.createDataset.dataset.id;
        const up = await gql(
          `mutation($input: UploadDatasetInput!) { uploadDataset(input: $input) { ... on UploadDatasetSuccess { dataset { status recordCount splitCounts { train validation test } } } ... on Error { message } } }`,
          { input: { datasetId, contentBase64: hhSlice(file, 20) } },
        );
        assert.equal(up.uploadDataset.dataset?.status, "READY", JSON.stringify(up));
        assert.ok(up.uploadDataset.dataset.splitCounts.train >= 4);
        assert.ok(up.uploadDataset.dataset.splitCounts.test >= 1);
        ids.datasets.push(datasetId);
      }
      const snapshots = await testDb.db.system.dataset.findMany({ select: { snapshotKey: true } });
      assert.equal(snapshots.length, 2);
      for (const { snapshotKey } of snapshots) {
        assert.match(snapshotKey ?? "", /^obj:\/\//, "snapshots go to the object store, where any runner can read them");
        const key = snapshotKey!.replace(/^obj:\/\/[^/]+\//, "");
        assert.ok(await bus.artifacts.info(key), `object ${key} exists`);
      }
    });

    it("trains PARM; the jobEvents subscription streams started, progress and completed; an Adapter is recorded", async () => {
      const r = await gql(
        `mutation($input: StartTrainingInput!) { startTraining(input: $input) { __typename ... on StartTrainingSuccess { job { id } } ... on Error { message } } }`,
        {
          input: {
            adapterName: "e2e-parm", method: "PARM", baseModelId: ids.model,
            dimensions: ids.dims.map((d, i) => ({ dimensionId: d, datasetId: ids.datasets[i] })),
            r1: 2, r2: 2, loraAlpha: 4, targets: ["q_proj", "v_proj"], learningRate: 5e-3, epochs: 1, batchSize: 2, warmupSteps: 0,
            maxPromptLength: 24, maxLength: 48, checkpointEvery: 2, maxSteps: 4,
          },
        },
      );
      assert.equal(r.startTraining.__typename, "StartTrainingSuccess", JSON.stringify(r));
      const jobId = r.startTraining.job.id;
      const iterator = await subscribe(`subscription($id: ID!) { jobEvents(jobId: $id) { seq type payload } }`, { id: jobId });
      const types: string[] = [];
      const progress: any[] = [];
      for (;;) {
        const next = await nextWithin(iterator, 90_000, "a job event");
        if (next.done) break;
        const event = next.value.data!.jobEvents;
        types.push(event.type);
        if (event.type === "progress") progress.push(event.payload);
      }
      assert.equal(types[0], "started");
      assert.equal(types.at(-1), "completed", types.join(","));
      assert.ok(progress.length >= 2);
      assert.equal(progress.at(-1).percent, 100);
      assert.equal(progress.at(-1).lossPerObjective.length, 2);
      assert.ok(types.includes("artifact"));
      const job = await jobStatus(jobId);
      assert.equal(job.status, "SUCCEEDED", job.error);
      const adapters = await gql(`{ adapters(first: 5) { edges { node { id name } } } }`);
      const adapter = adapters.adapters.edges.find((e: any) => e.node.name === "e2e-parm");
      assert.ok(adapter);
      ids.adapter = adapter.node.id;
      ids.trainJob = jobId;
      const row = await testDb.db.system.adapter.findFirstOrThrow({ where: { id: uuidOf(ids.adapter!) } });
      assert.match(row.artifactDigest ?? "", /^[0-9a-f]{64}$/);
      assert.ok(Number.isFinite((row.metrics as Record<string, number>)["loss.helpfulness"]));
    });

    it("generates with two α values; generationTokens streams the tokens of both outputs", async () => {
      const r = await gql(
        `mutation($input: GenerateInput!) { generate(input: $input) { __typename ... on GenerateSuccess { generation { id jobId } } ... on Error { message } } }`,
        { input: { baseModelId: ids.model, adapterId: ids.adapter, prompt: "Once upon a time", alphas: [[1, 0], [0, 1]], maxTokens: 8 } },
      );
      assert.equal(r.generate.__typename, "GenerateSuccess", JSON.stringify(r));
      const { id: generationId, jobId } = r.generate.generation;
      const iterator = await subscribe(`subscription($id: ID!) { generationTokens(generationId: $id) { outputIndex position text } }`, { id: generationId });
      const tokens: any[] = [];
      for (;;) {
        const next = await nextWithin(iterator, 60_000, "a token");
        if (next.done) break;
        tokens.push(next.value.data!.generationTokens);
      }
      assert.equal((await waitJob(jobId)).status, "SUCCEEDED");
      const stored = await gql(`query($id: ID!) { node(id: $id) { ... on Generation { status outputs { alpha text tokenCount } } } }`, { id: generationId });
      const outputs = stored.node.outputs;
      assert.equal(outputs.length, 2);
      for (const index of [0, 1]) {
        const mine = tokens.filter((t) => t.outputIndex === index);
        assert.equal(mine.length, outputs[index].tokenCount);
        assert.equal(mine.map((t) => t.text).join(""), outputs[index].text);
      }
    });

    it("trains one evaluator per dimension and runs a 3-point evaluation streamed over evaluationPoints", async () => {
      for (const [i, name] of ["harm-rm", "help-rm"].entries()) {
        const r = await gql(
          `mutation($input: TrainEvaluatorInput!) { trainEvaluator(input: $input) { __typename ... on TrainEvaluatorSuccess { job { id } } ... on Error { message } } }`,
          { input: { evaluatorName: name, dimensionId: ids.dims[i], baseModelId: ids.model, datasetId: ids.datasets[i], learningRate: 1e-3, epochs: 1, batchSize: 2, maxLength: 48 } },
        );
        assert.equal(r.trainEvaluator.__typename, "TrainEvaluatorSuccess", JSON.stringify(r));
        const job = await waitJob(r.trainEvaluator.job.id);
        assert.equal(job.status, "SUCCEEDED", job.error);
      }
      const models = await gql(`{ models(first: 20) { edges { node { id name kind } } } }`);
      for (const name of ["harm-rm", "help-rm"]) {
        const found = models.models.edges.find((e: any) => e.node.name === name);
        assert.equal(found?.node.kind, "EVALUATOR");
        ids.evaluators.push(found.node.id);
      }
      const r = await gql(
        `mutation($input: StartEvaluationInput!) { startEvaluation(input: $input) { __typename ... on StartEvaluationSuccess { evaluation { id jobId } } ... on Error { message } } }`,
        { input: { adapterId: ids.adapter, baseModelId: ids.model, datasetId: ids.datasets[1], split: "TEST", promptCount: 1, evaluatorIds: ids.evaluators, gridStep: 0.5, maxTokens: 6 } },
      );
      assert.equal(r.startEvaluation.__typename, "StartEvaluationSuccess", JSON.stringify(r));
      const { id: evaluationId, jobId } = r.startEvaluation.evaluation;
      ids.evaluation = evaluationId;
      const iterator = await subscribe(`subscription($id: ID!) { evaluationPoints(evaluationId: $id) { index alpha rewards } }`, { id: evaluationId });
      const points: any[] = [];
      for (;;) {
        const next = await nextWithin(iterator, 90_000, "a point");
        if (next.done) break;
        points.push(next.value.data!.evaluationPoints);
      }
      const job = await waitJob(jobId);
      assert.equal(job.status, "SUCCEEDED", job.error);
      assert.equal(points.length, 3);
      assert.deepEqual(points.map((p) => p.alpha).sort((a, b) => a[0] - b[0]), [[0, 1], [0.5, 0.5], [1, 0]]);
      const stored = await gql(`query($id: ID!) { node(id: $id) { ... on Evaluation { status hypervolume mip referencePoint points { index onFront } } } }`, { id: evaluationId });
      assert.equal(stored.node.status, "SUCCEEDED");
      assert.ok(Number.isFinite(stored.node.hypervolume) && Number.isFinite(stored.node.mip));
      assert.equal(stored.node.referencePoint.length, 2);
      assert.ok(stored.node.points.some((p: any) => p.onFront));
    });

    it("downloads what the runner stored: the adapter, the evaluators, the checkpoint, the report and plot, the records", async () => {
      const fetchOk = async (path: string) => {
        const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
        const bytes = Buffer.from(await res.arrayBuffer());
        assert.equal(res.status, 200, `${path}: ${bytes.toString("utf8").slice(0, 300)}`);
        return { res, bytes };
      };
      const digest = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
      const adapter = (await gql(`query($id: ID!) { node(id: $id) { ... on Adapter { downloadUrl artifactDigest } } }`, { id: ids.adapter })).node;
      const a = await fetchOk(adapter.downloadUrl);
      assert.equal(digest(a.bytes), adapter.artifactDigest);
      assert.equal(a.res.headers.get("etag"), `"${adapter.artifactDigest}"`);
      for (const id of ids.evaluators) {
        const model = (await gql(`query($id: ID!) { node(id: $id) { ... on Model { downloadUrl sha256 location } } }`, { id })).node;
        const m = await fetchOk(model.downloadUrl);
        assert.equal(digest(m.bytes), model.sha256);
        assert.deepEqual(m.bytes, Buffer.from((await stored(model.location.replace("obj://artifacts/", "")))!));
      }
      const job = (await gql(`query($id: ID!) { node(id: $id) { ... on Job { checkpointDownloadUrl } } }`, { id: ids.trainJob })).node;
      const checkpoint = await fetchOk(job.checkpointDownloadUrl);
      assert.deepEqual(checkpoint.bytes, Buffer.from((await stored(`checkpoints/${uuidOf(ids.trainJob!)}`))!));
      assert.ok(Number(checkpoint.res.headers.get("x-parm-checkpoint-step")) > 0);
      const evaluation = (await gql(`query($id: ID!) { node(id: $id) { ... on Evaluation { downloadUrl plotDownloadUrl hypervolume } } }`, { id: ids.evaluation })).node;
      const report = await fetchOk(evaluation.downloadUrl);
      assert.equal(report.res.headers.get("x-parm-report-source"), "runner");
      const parsed = JSON.parse(report.bytes.toString("utf8"));
      assert.equal(parsed.kind, "parm.pareto-report");
      assert.equal(parsed.hypervolume, evaluation.hypervolume);
      const plot = await fetchOk(evaluation.plotDownloadUrl);
      assert.equal(plot.res.headers.get("content-type"), "image/svg+xml; charset=utf-8");
      assert.ok(plot.bytes.toString("utf8").startsWith("<svg"));
      const dataset = (await gql(`query($id: ID!) { node(id: $id) { ... on Dataset { downloadUrl recordCount } } }`, { id: ids.datasets[0] })).node;
      const records = await fetchOk(dataset.downloadUrl);
      const lines = records.bytes.toString("utf8").trimEnd().split("\n").map((l) => JSON.parse(l));
      assert.equal(lines.length, dataset.recordCount);
      assert.ok(lines.every((l) => ["TRAIN", "VALIDATION", "TEST"].includes(l.split)));
    });
  });
}
