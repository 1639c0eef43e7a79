/** @module test/api/live-tokens — tokens reach generationTokens subscribers ahead of their commit, in order, and a
 *  subscriber that arrives between publish and commit replays them (real PostgreSQL and WebSocket). */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { createLiveTokens, type LiveToken } from "../../src/api/ingest/live-tokens.ts";
import { Topics } from "../../src/api/pubsub/index.ts";
import { ingestJobEvent } from "../../src/api/services/job-events.ts";
import { nextWithin } from "../helpers/graphql.ts";
import { startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";

const GGUF = new URL("../../../shared/data/tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf", import.meta.url);
const uuidOf = (globalId: string) => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;
const TOKENS = `subscription($id: ID!) { generationTokens(generationId: $id) { position text } }`;

let api: TestApi;
let tenant: TestTenant;
let model: string;

before(async () => {
  api = await startTestApi();
  tenant = await api.createTenantWithKey(undefined, { maxConcurrentJobs: 10 });
  const r = await api.gqlOk<any>(`mutation($input: RegisterModelInput!) { registerModel(input: $input) { ... on RegisterModelSuccess { model { id } } ... on Error { message } } }`, { input: { name: "tiny", kind: "BASE", location: GGUF.href } }, tenant.key);
  model = r.registerModel.model.id;
});
after(async () => api?.stop());

it("publishes a job's tokens in stream order, ahead of the commit; a subscriber in between replays the pending ones", async () => {
  const g = await api.gqlOk<any>(`mutation($input: GenerateInput!) { generate(input: $input) { ... on GenerateSuccess { generation { id jobId } } ... on Error { message } } }`, { input: { baseModelId: model, prompt: "Once", alphas: [[]], maxTokens: 8 } }, tenant.key);
  const { id: generationId, jobId: jobGlobalId } = g.generate.generation;
  const jobId = uuidOf(jobGlobalId);
  const live = createLiveTokens(api.db, api.server.pubSub);
  const token = (seq: number, position: number, text: string): LiveToken => ({ jobId, seq, event: { type: "token", outputIndex: 0, position, tokenId: 70 + position, text } });
  const first = await api.subscribe<any>(TOKENS, { id: generationId }, tenant.key);
  await new Promise((r) => setTimeout(r, 200)); // subscribed (replay of nothing done)

  // Received before the job's generation is known: held, then published in order just before the commit.
  const t1 = token(2, 0, " a");
  live.received(t1);
  assert.equal(t1.published, undefined, "unknown generation: not published at receipt");
  await ingestJobEvent(api.db, api.server.pubSub, jobId, 1, { type: "started", runnerId: "r", attempt: 1, device: "cpu", resumedFromStep: 0 });
  await live.jobEvent(jobId, "started");
  const t2 = token(3, 1, " b");
  live.received(t2);
  assert.equal(t2.published, undefined, "an earlier token of the job is unpublished: this one waits too");
  await live.publishRest([t1, t2]);
  assert.deepEqual([t1.published, t2.published], [true, true]);
  for (const text of [" a", " b"]) assert.equal((await nextWithin(first.iterator, 5000, text)).value.data.generationTokens.text, text);

  // From now on a token goes out at receipt, with nothing in the database yet.
  const t3 = token(4, 2, " c");
  live.received(t3);
  assert.equal(t3.published, true);
  assert.equal((await nextWithin(first.iterator, 5000, "t3 live")).value.data.generationTokens.text, " c");
  assert.equal(await api.db.system.jobEvent.count({ where: { jobId, type: "token" } }), 0, "no token committed yet");
  assert.equal(api.server.pubSub.pending.snapshot(Topics.generation(uuidOf(generationId))).length, 3);

  const late = await api.subscribe<any>(TOKENS, { id: generationId }, tenant.key);
  const replayed = [];
  for (let i = 0; i < 3; i++) replayed.push((await nextWithin(late.iterator, 5000, `replay ${i}`)).value.data.generationTokens);
  assert.deepEqual(replayed, [{ position: 0, text: " a" }, { position: 1, text: " b" }, { position: 2, text: " c" }], "pending tokens replayed in order");

  live.settle([t1, t2, t3]);
  assert.equal(api.server.pubSub.pending.size, 0, "settled after the commit");
  await live.jobEvent(jobId, "completed");
  const t4 = token(6, 3, " d");
  live.received(t4);
  assert.equal(t4.published, undefined, "the job's generation is forgotten at its terminal event");
  await first.iterator.return?.();
  await late.iterator.return?.();
});
