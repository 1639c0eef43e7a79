/** @module engine/decode/stop.test */
import { test } from "node:test";
import assert from "node:assert/strict";
import { StopCriteria, StopCriteriaError, StopStringMatcher } from "./stop.ts";

/** Feeds chunks, returns everything emitted and the final match. */
function stream(matcher: StopStringMatcher, chunks: readonly string[]): { text: string; stopString?: string } {
  let text = "";
  for (const chunk of chunks) {
    const step = matcher.push(chunk);
    text += step.emit;
    if (step.stopped) return { text, stopString: step.stopString };
  }
  return { text: text + matcher.flush() };
}

test("a stop string split across tokens is caught and never emitted", () => {
  const matcher = new StopStringMatcher(["\nUSER:"]);
  assert.deepEqual(matcher.push("Hello"), { emit: "Hello", stopped: false });
  assert.deepEqual(matcher.push(" world\nUS"), { emit: " world", stopped: false });
  assert.equal(matcher.pending, "\nUS");
  assert.deepEqual(matcher.push("ER: more"), { emit: "", stopped: true, stopString: "\nUSER:" });
  assert.throws(() => matcher.push("x"), (e: unknown) => e instanceof StopCriteriaError && e.code === "ALREADY_STOPPED");
});

test("held text is released when it stops looking like a stop string; flush returns the rest", () => {
  const matcher = new StopStringMatcher(["###"]);
  assert.deepEqual(matcher.push("a #"), { emit: "a ", stopped: false });
  assert.deepEqual(matcher.push("#"), { emit: "", stopped: false });
  assert.deepEqual(matcher.push("b"), { emit: "##b", stopped: false });
  assert.deepEqual(matcher.push("##"), { emit: "", stopped: false });
  assert.equal(matcher.flush(), "##");
});

test("earliest match wins; every split of a text gives the same result as the whole text", () => {
  const stops = ["END", "ND!", "x"];
  const text = "abcEND! and x";
  const whole = stream(new StopStringMatcher(stops), [text]);
  assert.deepEqual(whole, { text: "abc", stopString: "END" });
  for (let i = 0; i <= text.length; i++) {
    for (let j = i; j <= text.length; j++) {
      const chunks = [text.slice(0, i), text.slice(i, j), text.slice(j)];
      assert.deepEqual(stream(new StopStringMatcher(stops), chunks), whole, `split ${i},${j}`);
    }
  }
  // One character per token, random texts: emitted text = text before the first occurrence of any stop string.
  let seed = 99;
  const next = (): number => (seed = (Math.imul(seed, 48271) >>> 0) % 2147483647) / 2147483647;
  for (let trial = 0; trial < 300; trial++) {
    const random = Array.from({ length: 12 }, () => "abc"[Math.floor(next() * 3)]).join("");
    const stopList = ["abc", "cb", "bab"];
    const firsts = stopList.map((s) => random.indexOf(s)).filter((i) => i >= 0);
    const cut = firsts.length > 0 ? Math.min(...firsts) : random.length;
    assert.equal(stream(new StopStringMatcher(stopList), [...random]).text, random.slice(0, cut), random);
  }
  assert.deepEqual(stream(new StopStringMatcher(["ab", "a"]), ["xab"]), { text: "x", stopString: "a" });
});

test("StopCriteria: EOS ends without emitting its text, flushing held text", () => {
  const criteria = new StopCriteria({ eosTokenIds: [2], maxNewTokens: 10, stopStrings: ["</s>"] });
  assert.deepEqual(criteria.onToken(5, "Hi"), { emit: "Hi", stop: null });
  assert.deepEqual(criteria.onToken(6, " </"), { emit: " ", stop: null });
  assert.deepEqual(criteria.onToken(2, "<eos>"), { emit: "</", stop: "eos" });
  assert.equal(criteria.reason, "eos");
  assert.equal(criteria.generatedCount, 3);
  assert.throws(() => criteria.onToken(5, "x"), (e: unknown) => e instanceof StopCriteriaError && /already stopped \(eos\)/.test(e.message));
});

test("StopCriteria: stop string, then max-new-tokens (emits the last token and held text)", () => {
  const byString = new StopCriteria({ eosTokenIds: [], maxNewTokens: 10, stopStrings: ["\n\n"] });
  assert.deepEqual(byString.onToken(1, "ok\n"), { emit: "ok", stop: null });
  assert.deepEqual(byString.onToken(1, "\nmore"), { emit: "", stop: "stop-string", stopString: "\n\n" });
  const byLength = new StopCriteria({ eosTokenIds: [0], maxNewTokens: 3, stopStrings: ["zz"] });
  assert.equal(byLength.onToken(4, "a").stop, null);
  assert.equal(byLength.onToken(4, "b").stop, null);
  assert.deepEqual(byLength.onToken(4, "cz"), { emit: "cz", stop: "max-new-tokens" });
  // The stop string takes precedence over the length limit on the same token.
  const both = new StopCriteria({ eosTokenIds: [], maxNewTokens: 1, stopStrings: ["b"] });
  assert.deepEqual(both.onToken(9, "ab"), { emit: "a", stop: "stop-string", stopString: "b" });
  assert.equal(new StopCriteria({ eosTokenIds: [7], maxNewTokens: 1 }).isEos(7), true);
});

test("bad settings raise StopCriteriaError naming the field", () => {
  const cases: [() => unknown, string, RegExp][] = [
    [() => new StopStringMatcher([""]), "INVALID_STOP_STRINGS", /stopStrings\[0\] must be a non-empty string/],
    [() => new StopCriteria({ eosTokenIds: [], maxNewTokens: 0 }), "INVALID_MAX_NEW_TOKENS", /got 0/],
    [() => new StopCriteria({ eosTokenIds: [], maxNewTokens: 2.5 }), "INVALID_MAX_NEW_TOKENS", /got 2\.5/],
    [() => new StopCriteria({ eosTokenIds: [-1], maxNewTokens: 2 }), "INVALID_EOS", /eosTokenIds\[0\]/],
    [() => new StopCriteria({ eosTokenIds: [1], maxNewTokens: 2, stopStrings: ["a", 3 as never] }), "INVALID_STOP_STRINGS", /stopStrings\[1\]/],
  ];
  for (const [fn, code, pattern] of cases) {
    assert.throws(fn, (e: unknown) => e instanceof StopCriteriaError && e.code === code && pattern.test(e.message), `${code}`);
  }
});
