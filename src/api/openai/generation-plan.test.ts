import { after, test } from "node:test";
import assert from "node:assert/strict";
import { renderNamedChat, sharedChatTemplateSandbox } from "../../contracts/index.ts";
import { CHATML_TEMPLATE, LLAMA2_CHAT_TEMPLATE } from "../../../test/fixtures/chat-templates.ts";
import type { TenantServiceDeps } from "../services/deps.ts";
import { planGeneration } from "./generation-plan.ts";
import { OpenAiError } from "./openai-error.ts";

after(() => sharedChatTemplateSandbox().close());

const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const at = new Date("2026-01-01T00:00:00Z");
const model = (n: number, name: string, config: object, promptTemplate: string | null = null) => ({ id: uuid(n), name, kind: "BASE", config, promptTemplate, vocabSize: 512, tokenizerHash: null, createdAt: at });
const adapter = (n: number, name: string, baseModelId: string, trainingConfig: object) => ({
  id: uuid(n), name, baseModelId, method: "PARM", dimensionIds: [uuid(90), uuid(91)], dimensionNames: ["helpful", "harmless"], trainingConfig, artifactKey: "k", createdAt: at,
});

const models = [
  model(1, "plain-hh", {}),
  model(2, "named-pku", {}, "PKU"),
  model(3, "chatml", { chatTemplate: CHATML_TEMPLATE, eosToken: "<|im_end|>" }),
  model(4, "llama2", { chatTemplate: LLAMA2_CHAT_TEMPLATE, bosToken: "<s>", eosToken: "</s>" }),
];
const adapters = [
  adapter(10, "trained-pku", uuid(1), { promptTemplate: { kind: "named", name: "PKU" } }),
  adapter(11, "legacy", uuid(3), {}),
];
const deps = { db: { adapter: { findMany: async () => adapters }, model: { findMany: async () => models } } } as unknown as TenantServiceDeps;
const messages = [
  { role: "system" as const, content: "Be kind." },
  { role: "user" as const, content: "Hi" },
];
const chat = (body: object) => planGeneration(deps, "chat", { messages, ...body });

test("chat messages go through the model's own chat template, else its named one, else HH; the turn stop follows", async () => {
  const hh = await chat({ model: "plain-hh" });
  assert.equal(hh.command.prompt, renderNamedChat("HH", messages).prompt);
  assert.deepEqual(hh.command.sampling?.stop, ["\n\nHuman:"]);
  const pku = await chat({ model: "named-pku" });
  assert.equal(pku.command.prompt, "BEGINNING OF CONVERSATION: Be kind. USER: Hi ASSISTANT:");
  assert.deepEqual(pku.command.sampling?.stop, ["USER:"]);
  const chatml = await chat({ model: "chatml" });
  assert.equal(chatml.command.prompt, "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  assert.deepEqual(chatml.command.sampling?.stop, [], "the template's end of turn is the EOS token");
  const llama = await chat({ model: "llama2" });
  assert.equal(llama.command.prompt, "[INST] <<SYS>>\nBe kind.\n<</SYS>>\n\nHi [/INST]", "the leading BOS is left to the engine");
  assert.deepEqual((await chat({ model: "named-pku", stop: "END" })).command.sampling?.stop, ["END"], "a given stop wins");
  const completion = await planGeneration(deps, "completion", { model: "chatml", prompt: "raw text" });
  assert.equal(completion.command.prompt, "raw text", "completions are never templated");
});

test("an adapter decodes in the context it was trained in: its training's template, else its backbone's", async () => {
  const trained = await chat({ model: "trained-pku" });
  assert.equal(trained.command.baseModelId, uuid(1));
  assert.equal(trained.command.prompt, "BEGINNING OF CONVERSATION: Be kind. USER: Hi ASSISTANT:", "not the HH of its backbone");
  const guided = await chat({ model: "trained-pku", base_model: "chatml" });
  assert.equal(guided.command.baseModelId, uuid(3));
  assert.equal(guided.command.prompt, trained.command.prompt, "base_model does not change the adapter's context");
  const legacy = await chat({ model: "legacy" });
  assert.match(legacy.command.prompt, /^<\|im_start\|>system/, "an adapter trained before templates: its backbone's");
});

test("a chat template that cannot render the messages is a 400 on messages", async () => {
  await assert.rejects(
    planGeneration(deps, "chat", { model: "llama2", messages: [{ role: "user", content: "a" }, { role: "user", content: "b" }] }),
    (e: unknown) => e instanceof OpenAiError && e.status === 400 && e.param === "messages" && e.code === "chat_template_failed" && /roles must alternate/.test(e.message),
  );
});
