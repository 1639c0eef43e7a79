import { test } from "node:test";
import assert from "node:assert/strict";
import * as engine from "../index.ts";
import { categoryOfCause, EngineError, type CategoryByCode, type EngineErrorCategory } from "./errors.ts";

/** Every class the engine's public index (and its namespaces) exports whose instances are Errors. */
function exportedErrorClasses(): [string, Function][] {
  const out: [string, Function][] = [];
  const visit = (prefix: string, namespace: Record<string, unknown>) => {
    for (const [name, value] of Object.entries(namespace)) {
      if (typeof value === "function" && value.prototype instanceof Error) out.push([`${prefix}${name}`, value]);
      else if (value !== null && typeof value === "object" && !Array.isArray(value) && prefix === "") visit(`${name}.`, value as Record<string, unknown>);
    }
  };
  visit("", engine as unknown as Record<string, unknown>);
  return out;
}

test("every error class the engine exports is an EngineError", () => {
  const classes = exportedErrorClasses();
  assert.ok(classes.length >= 30, `found only ${classes.length} error classes`);
  const plain = classes.filter(([, cls]) => cls !== EngineError && !(cls.prototype instanceof EngineError)).map(([name]) => name);
  assert.deepEqual(plain, []);
});

test("a class's category is per code; a throw site may override it; unknown codes are internal", () => {
  class Demo extends EngineError<"BAD" | "GONE" | "OTHER"> {
    static override readonly category: Partial<CategoryByCode<"BAD" | "GONE" | "OTHER">> = { BAD: "invalid-input", GONE: "model-unavailable" };
  }
  assert.equal(new Demo("BAD", "x").category, "invalid-input");
  assert.equal(new Demo("GONE", "x").category, "model-unavailable");
  assert.equal(new Demo("OTHER", "x").category, "internal");
  assert.equal(new Demo("BAD", "x", { category: "context-exceeded" }).category, "context-exceeded");
  class Uniform extends EngineError<"A"> {
    static override readonly category = "cancelled";
  }
  assert.equal(new Uniform("A", "x").category, "cancelled");
  assert.equal(new Uniform("A", "x").name, "Uniform");
});

test("categoryOfCause: an EngineError keeps its category; onnxruntime and runtime messages are read", () => {
  const cases: [unknown, EngineErrorCategory][] = [
    [new engine.decode.GenerateRequestError("PROMPT_TOO_LONG", "too long"), "context-exceeded"],
    [new Error("Failed to allocate memory for requested buffer of size 1073741824"), "resource"],
    [new RangeError("Array buffer allocation failed"), "resource"],
    [new Error("std::bad_alloc"), "resource"],
    [new Error("Non-zero status code returned while running Gather node. indices element out of data bounds, idx=600"), "context-exceeded"],
    [new Error("kernel failed"), "internal"],
    ["a string", "internal"],
  ];
  for (const [cause, category] of cases) assert.equal(categoryOfCause(cause), category, String(cause));
});
