import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseSnapshot } from "./train-data.ts";
import { evaluatorPairs } from "./train-evaluator.ts";

const hash = "a".repeat(64);
const record = (line: number, split: string, preferences: Record<string, 0 | 1>) =>
  JSON.stringify({ line, prompt: `p${line}`, response0: `a${line}`, response1: `b${line}`, preferences, pairHash: hash, split });

describe("train-evaluator pairs", () => {
  const records = parseSnapshot(
    [
      record(1, "TRAIN", { safer: 1 }),
      record(2, "VALIDATION", { safer: 0 }),
      record(3, "VALIDATION", { better: 1 }),
      record(4, "TEST", { safer: 1 }),
      record(5, "VALIDATION", { safer: 1, better: 0 }),
    ].join("\n"),
    "pku",
  );

  it("trains on the chosen split only and holds out the other chosen split; the third split is unused", () => {
    const { train, heldOut } = evaluatorPairs(records, "safer", "VALIDATION", "TEST");
    assert.deepEqual(train.map((p) => p.prompt), ["p2", "p5"]);
    assert.deepEqual(train.map((p) => p.preferred), [[0], [1]]);
    assert.deepEqual(train[0].responses, ["a2", "b2"]);
    assert.deepEqual(heldOut.map((p) => p.prompt), ["p4"]);
  });

  it("follows other split choices and the label", () => {
    const trainOnTrain = evaluatorPairs(records, "safer", "TRAIN", "VALIDATION");
    assert.deepEqual(trainOnTrain.train.map((p) => p.prompt), ["p1"]);
    assert.deepEqual(trainOnTrain.heldOut.map((p) => p.prompt), ["p2", "p5"]);
    const better = evaluatorPairs(records, "better", "VALIDATION", "TRAIN");
    assert.deepEqual(better.train.map((p) => [p.prompt, p.preferred[0]]), [["p3", 1], ["p5", 0]]);
    assert.deepEqual(better.heldOut, []);
  });
});
