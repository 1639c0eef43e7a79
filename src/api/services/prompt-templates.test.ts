/** @module api/services/prompt-templates.test */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { ChatTemplateSandbox } from "../../contracts/index.ts";
import { CHATML_TEMPLATE } from "../../../test/fixtures/chat-templates.ts";
import { adapterPromptTemplate, checkChatTemplateConfig, modelPromptTemplate, ownChatTemplate } from "./prompt-templates.ts";

const sandbox = new ChatTemplateSandbox({ timeoutMs: 1000 });
after(() => sandbox.close());

describe("prompt templates of models and adapters", () => {
  it("a model uses its own chat template, else the named one, else HH", () => {
    const own = { config: { chatTemplate: CHATML_TEMPLATE, eosToken: "<|im_end|>" }, promptTemplate: null };
    assert.deepEqual(modelPromptTemplate(own), { kind: "jinja", template: CHATML_TEMPLATE, bosToken: null, eosToken: "<|im_end|>" });
    assert.deepEqual(modelPromptTemplate({ config: {}, promptTemplate: "PKU" }), { kind: "named", name: "PKU" });
    assert.deepEqual(modelPromptTemplate({ config: null, promptTemplate: null }), { kind: "named", name: "HH" });
    assert.equal(ownChatTemplate({ chatTemplate: "x".repeat(64 * 1024 + 1) }), null);
    assert.equal(ownChatTemplate({ chatTemplate: CHATML_TEMPLATE, bosToken: "b".repeat(300) })?.bosToken, null);
  });

  it("an adapter uses the template its training applied, else its backbone's", () => {
    const backbone = { config: {}, promptTemplate: "PLAIN" as const };
    assert.deepEqual(adapterPromptTemplate({ trainingConfig: { promptTemplate: { kind: "named", name: "PKU" } } }, backbone), { kind: "named", name: "PKU" });
    assert.deepEqual(adapterPromptTemplate({ trainingConfig: { promptTemplate: null } }, backbone), { kind: "named", name: "PLAIN" }, "trained before templates");
    assert.deepEqual(adapterPromptTemplate({ trainingConfig: {} }, null), { kind: "named", name: "HH" });
  });

  it("registration keeps a chat template that renders and replaces one that does not with the reason", async () => {
    const good = { ggufVersion: 3, chatTemplate: CHATML_TEMPLATE, chatTemplateSource: "gguf", eosToken: "<|im_end|>" };
    assert.deepEqual(await checkChatTemplateConfig(good, sandbox), good);
    const broken = await checkChatTemplateConfig({ ggufVersion: 3, chatTemplate: "{% for %}", bosToken: "<s>", chatTemplateSource: "gguf" }, sandbox);
    assert.equal(broken.chatTemplate, undefined);
    assert.equal(broken.bosToken, undefined);
    assert.match(String(broken.chatTemplateProblem), /does not parse/);
    const raising = await checkChatTemplateConfig({ chatTemplate: "{{ raise_exception('system messages only') }}" }, sandbox);
    assert.match(String(raising.chatTemplateProblem), /system messages only/);
    const huge = await checkChatTemplateConfig({ chatTemplate: "x".repeat(70_000) }, sandbox);
    assert.match(String(huge.chatTemplateProblem), /at most 65536/);
    const hostile = await checkChatTemplateConfig({ chatTemplate: "{% for i in range(1000000000) %}{% endfor %}" }, sandbox);
    assert.match(String(hostile.chatTemplateProblem), /memory|did not render/);
    assert.deepEqual(await checkChatTemplateConfig({ ggufVersion: 1 }, sandbox), { ggufVersion: 1 });
  });
});
