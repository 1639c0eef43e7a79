/**
 * @module test/helpers/domain-fixtures — a tenant's domain objects made through the real API, the way clients make
 * them: dimensions, a READY PKU-SafeRLHF dataset, models (by location or inline upload), a trained adapter (a TRAIN
 * job whose runner reports `completed`), tiny header-only GGUF files for quota tests, and global-id helpers.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { ingestJobEvent } from "../../src/api/services/job-events.ts";
import { writeGguf } from "../../src/gpu-runner/engine/model/gguf-writer.ts";
import { SHARED_DATA_DIR, type TestApi } from "./server.ts";

export const STORIES_GGUF = new URL("tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf", `file://${SHARED_DATA_DIR}`);
export const PKU_16 = new URL("pku-saferlhf/alpaca-7b.test.head16.jsonl", `file://${SHARED_DATA_DIR}`);

export const uuidOf = (globalId: string): string => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;
export const globalId = (typeName: string, uuid: string): string => Buffer.from(`${typeName}:${uuid}`).toString("base64");

/** A header-only GGUF (no tensors) whose vocabulary is `tokens`: a valid model file of about 150 bytes. */
export function tinyGguf(tokens: readonly string[]): Buffer {
  return Buffer.from(writeGguf({ version: 3, metadata: [["tokenizer.ggml.tokens", { type: "array", elementType: "string", value: tokens }]], tensors: [] }));
}

/** A payload member, whatever it is: `__typename` plus the fields the fragments ask for. */
type Payload = Record<string, any>;

export interface DomainClient {
  dimensions(names: string[]): Promise<string[]>;
  /** A PKU-SafeRLHF dataset mapping better → dims[0], safer → dims[1], with the 16-pair file uploaded (READY). */
  pkuDataset(name: string, dims: string[]): Promise<string>;
  createDataset(name: string, dims: string[]): Promise<string>;
  upload(datasetId: string): Promise<Payload>;
  registerModel(input: Record<string, unknown>): Promise<Payload>;
  /** startTraining (PARM over dims on dataset) answered StartTrainingSuccess: the job's global id. */
  startTraining(adapterName: string, model: string, dims: string[], dataset: string): Promise<string>;
  /** A trained adapter: startTraining, then the runner's `completed` with `artifactKey` (default the runner's key). */
  trainedAdapter(adapterName: string, model: string, dims: string[], dataset: string, artifactKey?: (jobUuid: string) => string): Promise<{ adapter: string; job: string }>;
  cancel(jobId: string): Promise<Payload>;
}

export function domainClient(api: TestApi, key: string, tenantUuid: string): DomainClient {
  const ok = <T = Record<string, any>>(query: string, variables: Record<string, unknown>) => api.gqlOk<T>(query, variables, key);
  const client: DomainClient = {
    async dimensions(names) {
      const ids: string[] = [];
      for (const name of names) {
        const d = await ok(`mutation($n: String!) { createDimension(input: { name: $n }) { ... on CreateDimensionSuccess { dimension { id } } } }`, { n: name });
        ids.push(d.createDimension.dimension.id);
      }
      return ids;
    },
    async createDataset(name, dims) {
      const r = await ok(`mutation($input: CreateDatasetInput!) { createDataset(input: $input) { ... on CreateDatasetSuccess { dataset { id } } ... on Error { message } } }`, {
        input: { name, format: "PKU_SAFERLHF", labels: [{ label: "better", dimensionId: dims[0] }, { label: "safer", dimensionId: dims[1] }] },
      });
      assert.ok(r.createDataset.dataset, JSON.stringify(r));
      return r.createDataset.dataset.id;
    },
    async upload(datasetId) {
      const r = await ok(
        `mutation($input: UploadDatasetInput!) { uploadDataset(input: $input) { __typename
          ... on UploadDatasetSuccess { dataset { id status byteSize } } ... on QuotaExceeded { quota message } ... on Error { message } } }`,
        { input: { datasetId, contentBase64: (await readFile(PKU_16)).toString("base64") } },
      );
      return r.uploadDataset;
    },
    async pkuDataset(name, dims) {
      const id = await client.createDataset(name, dims);
      const uploaded = await client.upload(id);
      assert.equal(uploaded.__typename, "UploadDatasetSuccess", JSON.stringify(uploaded));
      return id;
    },
    async registerModel(input) {
      const r = await ok(
        `mutation($input: RegisterModelInput!) { registerModel(input: $input) { __typename
          ... on RegisterModelSuccess { model { id location storedBytes } }
          ... on ModelFileInvalid { message location problem } ... on QuotaExceeded { quota message } ... on Error { message } } }`,
        { input },
      );
      return r.registerModel;
    },
    async startTraining(adapterName, model, dims, dataset) {
      const r = await ok(`mutation($input: StartTrainingInput!) { startTraining(input: $input) { __typename ... on StartTrainingSuccess { job { id } } ... on Error { message } } }`, {
        input: { adapterName, method: "PARM", baseModelId: model, dimensions: dims.map((d) => ({ dimensionId: d, datasetId: dataset })) },
      });
      assert.equal(r.startTraining.__typename, "StartTrainingSuccess", JSON.stringify(r));
      return r.startTraining.job.id;
    },
    async trainedAdapter(adapterName, model, dims, dataset, artifactKey = (job) => `adapters/${tenantUuid}/${job}/adapter.safetensors`) {
      const job = await client.startTraining(adapterName, model, dims, dataset);
      const jobUuid = uuidOf(job);
      await ingestJobEvent(api.db, api.server.pubSub, jobUuid, 1, { type: "completed", durationSeconds: 1, metrics: {}, artifactKey: artifactKey(jobUuid) });
      const row = await api.db.system.adapter.findFirstOrThrow({ where: { jobId: jobUuid } });
      return { adapter: globalId("Adapter", row.id), job };
    },
    async cancel(jobId) {
      const r = await ok(`mutation($id: ID!) { cancelJob(input: { jobId: $id }) { __typename ... on CancelJobSuccess { job { status } } ... on Error { message } } }`, { id: jobId });
      return r.cancelJob;
    },
  };
  return client;
}

/** `deleteX(input: { id })` with every payload member's fields. */
export function deleteMutation(typeName: string): string {
  return `mutation($id: ID!) { delete${typeName}(input: { id: $id }) { __typename
    ... on Delete${typeName}Success { deletedId freedBytes }
    ... on ResourceInUse { message usedBy }
    ... on NotFoundError { message id }
    ... on ValidationError { message field } } }`;
}
