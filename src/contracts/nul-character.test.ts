import { test } from "node:test";
import assert from "node:assert/strict";
import { findNulCharacter } from "./nul-character.ts";

test("findNulCharacter names the first string holding U+0000, in document order, below the root", () => {
  assert.equal(findNulCharacter({ name: "ok", description: "fine" }, "input"), null);
  assert.equal(findNulCharacter("a\u0000b"), "");
  assert.equal(findNulCharacter({ name: "a\u0000" }, "input"), "input.name");
  assert.equal(findNulCharacter({ sampling: { stop: ["x", "y\u0000", "z\u0000"] }, prompt: "p\u0000" }, "input"), "input.sampling.stop[1]");
  assert.equal(findNulCharacter({ a: [{ b: [null, 3, { c: "\u0000" }] }] }), "a[0].b[2].c");
  assert.equal(findNulCharacter({ ["k\u0000"]: 1 }, "x"), String.raw`x.k\u0000`);
  assert.equal(findNulCharacter([1, true, null, undefined, "\\u0000 escaped text is fine"]), null);
});

test("findNulCharacter walks deep values without recursion", () => {
  let deep: unknown = "\u0000";
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.equal(findNulCharacter(deep)?.length, "[0]".length * 100_000);
});
