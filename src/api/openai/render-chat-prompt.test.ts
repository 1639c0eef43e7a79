import { test } from "node:test";
import assert from "node:assert/strict";
import { CHAT_TURN_STOPS, renderChatPrompt } from "./render-chat-prompt.ts";

test("renderChatPrompt writes HH-RLHF turns and ends with an open Assistant turn", () => {
  assert.equal(renderChatPrompt([{ role: "user", content: "Hi" }]), "\n\nHuman: Hi\n\nAssistant:");
  assert.equal(
    renderChatPrompt([
      { role: "system", content: "Be kind." },
      { role: "user", content: [{ type: "text", text: "How do " }, { type: "text", text: "I bake bread?" }] },
      { role: "assistant", content: " Knead it. " },
      { role: "user", content: "And then?" },
    ]),
    "Be kind.\n\nHuman: How do I bake bread?\n\nAssistant: Knead it.\n\nHuman: And then?\n\nAssistant:",
  );
  assert.equal(renderChatPrompt([{ role: "user", content: "a" }, { role: "developer", content: "b" }]), "\n\nHuman: a\n\nb\n\nAssistant:");
  assert.deepEqual(CHAT_TURN_STOPS, ["\n\nHuman:"]);
});
