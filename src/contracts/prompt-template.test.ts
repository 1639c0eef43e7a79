import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ChatTemplateSandbox, renderBarePrompts, renderChat } from "./chat-template-sandbox.ts";
import {
  ChatTemplateError,
  compileChatTemplate,
  joinResponse,
  namedPromptTemplate,
  PromptTemplateSchema,
  renderJinjaChatUnsandboxed,
  renderNamedChat,
  renderNamedPrompt,
  templateForDatasetFormat,
  type ChatMessage,
  type JinjaPromptTemplate,
} from "./prompt-template.ts";
import { CHATML_TEMPLATE, LLAMA2_CHAT_TEMPLATE } from "../../test/fixtures/chat-templates.ts";

const llama2: JinjaPromptTemplate = { kind: "jinja", template: LLAMA2_CHAT_TEMPLATE, bosToken: "<s>", eosToken: "</s>" };
const chatml: JinjaPromptTemplate = { kind: "jinja", template: CHATML_TEMPLATE, bosToken: null, eosToken: "<|im_end|>" };

const conversation: ChatMessage[] = [
  { role: "system", content: "Be kind." },
  { role: "user", content: [{ type: "text", text: "How do " }, { type: "text", text: "I bake bread?" }] },
  { role: "assistant", content: " Knead it. " },
  { role: "user", content: "And then?" },
];

describe("named prompt templates", () => {
  it("HH: HH-RLHF turns ending with an open Assistant turn, system text as a paragraph, stop at the next Human turn", () => {
    assert.deepEqual(renderNamedChat("HH", [{ role: "user", content: "Hi" }]), { prompt: "\n\nHuman: Hi\n\nAssistant:", stops: ["\n\nHuman:"] });
    assert.equal(renderNamedChat("HH", conversation).prompt, "Be kind.\n\nHuman: How do I bake bread?\n\nAssistant: Knead it.\n\nHuman: And then?\n\nAssistant:");
    assert.equal(renderNamedChat("HH", [{ role: "user", content: "a" }, { role: "developer", content: "b" }]).prompt, "\n\nHuman: a\n\nb\n\nAssistant:");
    assert.equal(renderNamedPrompt("HH", "What is 2+2?"), "\n\nHuman: What is 2+2?\n\nAssistant:");
  });

  it("PKU: safe-rlhf's BEGINNING OF CONVERSATION format, stop at USER:", () => {
    assert.equal(renderNamedPrompt("PKU", "How do I pick a lock?"), "BEGINNING OF CONVERSATION: USER: How do I pick a lock? ASSISTANT:");
    assert.deepEqual(renderNamedChat("PKU", conversation), {
      prompt: "BEGINNING OF CONVERSATION: Be kind. USER: How do I bake bread? ASSISTANT: Knead it. USER: And then? ASSISTANT:",
      stops: ["USER:"],
    });
  });

  it("PLAIN: texts as given, joined by a blank line; a bare prompt is unchanged", () => {
    assert.deepEqual(renderNamedChat("PLAIN", [{ role: "user", content: "Once upon" }]), { prompt: "Once upon", stops: [] });
    assert.equal(renderNamedChat("PLAIN", [{ role: "system", content: "A story." }, { role: "user", content: " Once " }]).prompt, "A story.\n\n Once ");
    assert.equal(renderNamedPrompt("PLAIN", "  raw\n"), "  raw\n");
  });

  it("templates apply to bare-prompt formats only; responses join a rendered prompt with one space", () => {
    const pku = namedPromptTemplate("PKU");
    assert.equal(templateForDatasetFormat("HH_RLHF", pku), null);
    assert.equal(templateForDatasetFormat("PKU_SAFERLHF", pku), pku);
    assert.equal(templateForDatasetFormat("GENERIC", pku), pku);
    assert.equal(templateForDatasetFormat("GENERIC", null), null, "payloads without a template train raw");
    assert.equal(joinResponse(pku, "… ASSISTANT:", "Sure."), " Sure.");
    assert.equal(joinResponse(pku, "… ASSISTANT:", " Sure."), " Sure.");
    assert.equal(joinResponse(chatml, "<|im_start|>assistant\n", "Sure."), "Sure.");
    assert.equal(joinResponse(namedPromptTemplate("PLAIN"), "Once", "upon"), "upon");
  });

  it("the payload schema takes named and jinja templates and bounds a template's size", () => {
    assert.deepEqual(PromptTemplateSchema.parse({ kind: "named", name: "PKU" }), { kind: "named", name: "PKU" });
    assert.deepEqual(PromptTemplateSchema.parse(chatml), chatml);
    assert.equal(PromptTemplateSchema.safeParse({ kind: "named", name: "pku" }).success, false);
    assert.equal(PromptTemplateSchema.safeParse({ ...chatml, template: "x".repeat(64 * 1024 + 1) }).success, false);
  });
});

describe("jinja chat templates", () => {
  it("renders Llama-2-chat with the system block, BOS per user turn (the leading one left to the engine) and EOS after answers", () => {
    assert.equal(
      renderJinjaChatUnsandboxed(llama2, conversation),
      "[INST] <<SYS>>\nBe kind.\n<</SYS>>\n\nHow do I bake bread? [/INST] Knead it. </s><s>[INST] And then? [/INST]",
    );
    assert.equal(renderJinjaChatUnsandboxed(llama2, [{ role: "user", content: "Hi" }]), "[INST] Hi [/INST]");
  });

  it("renders ChatML with the generation prompt; developer messages are passed as system", () => {
    assert.equal(
      renderJinjaChatUnsandboxed(chatml, [{ role: "developer", content: "Be brief." }, { role: "user", content: "Hi" }]),
      "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    );
  });

  it("names a template that does not parse, and one that raises", () => {
    assert.throws(() => compileChatTemplate("{% for x in %}"), (e: unknown) => e instanceof ChatTemplateError && e.problem === "PARSE");
    assert.throws(
      () => renderJinjaChatUnsandboxed(llama2, [{ role: "user", content: "a" }, { role: "user", content: "b" }]),
      (e: unknown) => e instanceof ChatTemplateError && e.problem === "RENDER" && /roles must alternate/.test(e.message),
    );
  });
});

describe("the chat template sandbox", () => {
  const sandbox = new ChatTemplateSandbox({ timeoutMs: 1500, perConversationMs: 1 });
  after(() => sandbox.close());

  it("renders chats and bare prompts through jinja templates in its process, and named ones in place", async () => {
    assert.deepEqual(await renderChat(chatml, [{ role: "user", content: "Hi" }], sandbox), { prompt: "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", stops: [] });
    assert.deepEqual(await renderBarePrompts(llama2, ["a", "b"], sandbox), ["[INST] a [/INST]", "[INST] b [/INST]"]);
    assert.deepEqual(await renderBarePrompts(namedPromptTemplate("PKU"), ["a"], sandbox), ["BEGINNING OF CONVERSATION: USER: a ASSISTANT:"]);
    assert.deepEqual(await renderChat(namedPromptTemplate("HH"), [{ role: "user", content: "Hi" }], sandbox), { prompt: "\n\nHuman: Hi\n\nAssistant:", stops: ["\n\nHuman:"] });
    await assert.rejects(sandbox.render(llama2, [[{ role: "assistant", content: "x" }]]), (e: unknown) => e instanceof ChatTemplateError && e.problem === "RENDER");
  });

  it("stops a template that exhausts its memory or its time, and keeps serving", async () => {
    const started = Date.now();
    await assert.rejects(
      sandbox.render({ kind: "jinja", template: "{% for i in range(1000000000) %}{% endfor %}", bosToken: null, eosToken: null }, [[{ role: "user", content: "x" }]]),
      (e: unknown) => e instanceof ChatTemplateError && (e.problem === "RESOURCES" || e.problem === "TIMEOUT"),
    );
    await assert.rejects(
      sandbox.render({ kind: "jinja", template: "{% for i in range(20000) %}{% for j in range(20000) %}{% endfor %}{% endfor %}", bosToken: null, eosToken: null }, [[{ role: "user", content: "x" }]]),
      (e: unknown) => e instanceof ChatTemplateError && e.problem === "TIMEOUT",
    );
    assert.ok(Date.now() - started < 15_000);
    assert.deepEqual(await sandbox.render(chatml, [[{ role: "user", content: "still" }]]), ["<|im_start|>user\nstill<|im_end|>\n<|im_start|>assistant\n"]);
  });
});
