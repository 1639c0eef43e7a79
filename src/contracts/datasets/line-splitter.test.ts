import { test } from "node:test";
import assert from "node:assert/strict";
import { LineSplitter, isBlankLine, type LineSink } from "./line-splitter.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** Runs `chunks` through a splitter and lists what the sink saw. */
function split(chunks: readonly Uint8Array[], limits = { maxLineBytes: 1000, maxLines: 1000 }) {
  const seen: (string | [number, string])[] = [];
  const sink: LineSink = {
    line: (n, bytes) => seen.push([n, dec(bytes)]),
    oversize: (n) => seen.push([n, "<oversize>"]),
    tooManyLines: (n) => seen.push([n, "<too many>"]),
  };
  const splitter = new LineSplitter(limits, sink);
  for (const chunk of chunks) splitter.push(chunk);
  splitter.end();
  return { seen, lines: splitter.lines, stopped: splitter.stopped };
}

test("lines keep their numbers across blank, CRLF and whitespace-only lines; a final line needs no LF", () => {
  const text = "a\n\n\r\n  \t\r\nb\r\n\n\nc";
  const { seen, lines } = split([enc(text)]);
  assert.deepEqual(seen, [[1, "a"], [5, "b"], [8, "c"]]);
  assert.equal(lines, 8);
});

test("every chunk boundary gives the same lines, including a CR and LF in different chunks", () => {
  const bytes = enc('{"x":1}\r\n\r\n\n{"y":"é"}\r\n \n{"z":3}');
  const reference = split([bytes]);
  for (let cut = 0; cut <= bytes.length; cut++) {
    assert.deepEqual(split([bytes.subarray(0, cut), bytes.subarray(cut)]), reference, `cut at ${cut}`);
  }
});

test("a line inside one chunk is a view of it (no copy); a split line is copied, so chunks may be reused", () => {
  const chunk = enc("ab\ncd");
  const views: Uint8Array[] = [];
  const splitter = new LineSplitter({ maxLineBytes: 100, maxLines: 100 }, { line: (_, b) => views.push(b), oversize() {}, tooManyLines() {} });
  splitter.push(chunk);
  chunk.fill(0x78); // the caller reuses its buffer
  splitter.push(enc("e\n"));
  assert.equal(views[0]!.buffer, chunk.buffer);
  assert.equal(dec(views[1]!), "cde");
});

test("lines over maxLineBytes are reported as oversize, whole or split; the next line is intact", () => {
  const { seen } = split([enc("0123456789\nok\n012"), enc("3456789012\nfine")], { maxLineBytes: 5, maxLines: 100 });
  assert.deepEqual(seen, [[1, "<oversize>"], [2, "ok"], [3, "<oversize>"], [4, "fine"]]);
});

test("maxLines counts blank lines and stops at the first line beyond it, even inside a run of blanks", () => {
  const blanks = split([new Uint8Array(10_000).fill(0x0a)], { maxLineBytes: 10, maxLines: 1000 });
  assert.deepEqual(blanks.seen, [[1001, "<too many>"]]);
  assert.equal(blanks.stopped, true);
  const exact = split([enc("a\n\nb\n")], { maxLineBytes: 10, maxLines: 3 });
  assert.deepEqual(exact.seen, [[1, "a"], [3, "b"]]);
  const over = split([enc("a\n\nb\nc"), enc("\nd\n")], { maxLineBytes: 10, maxLines: 3 });
  assert.deepEqual(over.seen, [[1, "a"], [3, "b"], [4, "<too many>"]]);
});

test("300 MiB of newlines split in well under the time the old per-line path took (132 s)", () => {
  const block = new Uint8Array(1024 * 1024).fill(0x0a);
  const sink: LineSink = { line: () => assert.fail("no line expected"), oversize: () => assert.fail(), tooManyLines: () => assert.fail() };
  const splitter = new LineSplitter({ maxLineBytes: 100, maxLines: 2 ** 31 }, sink);
  const started = performance.now();
  for (let i = 0; i < 300; i++) splitter.push(block);
  splitter.end();
  assert.equal(splitter.lines, 300 * 1024 * 1024);
  assert.ok(performance.now() - started < 20_000, `took ${performance.now() - started} ms`);
});

test("isBlankLine: only ASCII spaces, tabs and CRs", () => {
  assert.equal(isBlankLine(enc("")), true);
  assert.equal(isBlankLine(enc(" \t\r")), true);
  assert.equal(isBlankLine(enc(" x ")), false);
  assert.equal(isBlankLine(enc("\u00a0")), false);
});
