import { test } from "node:test";
import assert from "node:assert/strict";
import { ChatCompletionRequestSchema, CompletionRequestSchema, parseCompletionRequest } from "./completion-requests.ts";
import { OpenAiError } from "./openai-error.ts";

function paramOfRefusal(schema: Parameters<typeof parseCompletionRequest>[0], body: unknown): string | null {
  try {
    parseCompletionRequest(schema, body);
  } catch (error) {
    assert.ok(error instanceof OpenAiError && error.status === 400, String(error));
    return error.param;
  }
  assert.fail("expected a refusal");
}

test("valid bodies parse; unknown fields are dropped", () => {
  const parsed = parseCompletionRequest(CompletionRequestSchema, { model: "m", prompt: "Once", max_tokens: 4, stop: "\n", whatever: 1, preference: { a: 1 } });
  assert.equal(parsed.prompt, "Once");
  assert.equal((parsed as Record<string, unknown>).whatever, undefined);
  const chat = parseCompletionRequest(ChatCompletionRequestSchema, { model: "m", messages: [{ role: "user", content: "hi" }], stream: true, stream_options: { include_usage: true } });
  assert.equal(chat.messages.length, 1);
});

test("the first bad field is the param", () => {
  assert.equal(paramOfRefusal(CompletionRequestSchema, { prompt: "x" }), "model");
  assert.equal(paramOfRefusal(CompletionRequestSchema, { model: "m", prompt: ["a", "b"] }), "prompt");
  assert.equal(paramOfRefusal(CompletionRequestSchema, { model: "m", prompt: "a", max_tokens: 0 }), "max_tokens");
  assert.equal(paramOfRefusal(ChatCompletionRequestSchema, { model: "m", messages: [{ role: "user", content: "a" }, { role: "tool", content: "b" }] }), "messages[1].role");
  assert.equal(paramOfRefusal(ChatCompletionRequestSchema, { model: "m", messages: [] }), "messages");
  assert.equal(paramOfRefusal(CompletionRequestSchema, { model: "m", prompt: "a", preference: "helpful" }), "preference");
  assert.equal(paramOfRefusal(CompletionRequestSchema, { model: "m", prompt: "a", preferences: [{ a: "x" }] }), "preferences[0]");
  assert.equal(paramOfRefusal(CompletionRequestSchema, []), null);
});

test("features the platform lacks are refused when set, accepted when off", () => {
  assert.equal(paramOfRefusal(CompletionRequestSchema, { model: "m", prompt: "a", logprobs: 2 }), "logprobs");
  assert.equal(paramOfRefusal(ChatCompletionRequestSchema, { model: "m", messages: [{ role: "user", content: "a" }], tools: [{ type: "function" }] }), "tools");
  assert.equal(paramOfRefusal(CompletionRequestSchema, { model: "m", prompt: "a", echo: true }), "echo");
  assert.equal(paramOfRefusal(CompletionRequestSchema, { model: "m", prompt: "a", presence_penalty: 0.5 }), "presence_penalty");
  parseCompletionRequest(CompletionRequestSchema, { model: "m", prompt: "a", logprobs: null, echo: false, presence_penalty: 0, frequency_penalty: 0, best_of: 1 });
});
