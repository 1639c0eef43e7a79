import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ChatTemplateError, ChatTemplateSandbox } from "../../contracts/index.ts";
import { CHATML_TEMPLATE } from "../../../test/fixtures/chat-templates.ts";
import { adapterTargets, parseSnapshot, SnapshotFormatError, templatedSnapshots, trainingPairs, UnknownTargetError, type SnapshotForTraining } from "./train-data.ts";

const hash = "a".repeat(64);
const record = (line: number, split: string, preferences: Record<string, 0 | 1>) =>
  JSON.stringify({ line, prompt: `p${line}`, response0: `a${line}`, response1: `b${line}`, preferences, pairHash: hash, split });

describe("train-data", () => {
  it("parses a snapshot and names the first bad line", () => {
    const text = [record(1, "TRAIN", { better: 0 }), "", record(2, "VALIDATION", { better: 1 })].join("\n");
    assert.equal(parseSnapshot(text, "ds").length, 2);
    assert.throws(() => parseSnapshot(`${record(1, "TRAIN", {})}\n{"line":2}`, "ds"), (e: unknown) => e instanceof SnapshotFormatError && /ds: line 2: /.test(e.message));
    assert.throws(() => parseSnapshot("not json", "ds"), /line 1 is not JSON/);
  });

  it("builds pairs in α order from each dataset's label map; splits TRAIN / VALIDATION; drops TEST and unlabelled", () => {
    const pku = parseSnapshot(
      [record(1, "TRAIN", { better: 1, safer: 0 }), record(2, "VALIDATION", { better: 0, safer: 1 }), record(3, "TEST", { better: 0, safer: 0 })].join("\n"),
      "pku",
    );
    const hh = parseSnapshot([record(4, "TRAIN", { preferred: 1 }), record(5, "TRAIN", { other: 1 })].join("\n"), "hh");
    const { train, validation } = trainingPairs(
      [
        { records: pku, dimensionMap: { safer: "d-safe", better: "d-help" } },
        { records: hh, dimensionMap: { preferred: "d-humor" } },
      ],
      ["d-safe", "d-help", "d-humor"],
    );
    assert.deepEqual(train.map((p) => p.preferred), [[0, 1, null], [null, null, 1]]);
    assert.deepEqual(train[0].responses, ["a1", "b1"]);
    assert.deepEqual(validation.map((p) => p.preferred), [[1, 0, null]]);
  });

  it("maxPairs keeps each dataset's first N labelled TRAIN pairs in snapshot order; VALIDATION is not capped", () => {
    const a = parseSnapshot(
      [
        record(1, "TRAIN", { better: 0 }),
        record(2, "TRAIN", { other: 1 }), // unlabelled for the job: not counted
        record(3, "VALIDATION", { better: 1 }),
        record(4, "TRAIN", { better: 1 }),
        record(5, "TRAIN", { better: 0 }),
        record(6, "VALIDATION", { better: 0 }),
      ].join("\n"),
      "a",
    );
    const b = parseSnapshot([record(7, "TRAIN", { safer: 1 }), record(8, "TRAIN", { safer: 0 }), record(9, "TRAIN", { safer: 1 })].join("\n"), "b");
    const snapshots: SnapshotForTraining[] = [{ records: a, dimensionMap: { better: "d-help" } }, { records: b, dimensionMap: { safer: "d-safe" } }];
    const capped = trainingPairs(snapshots, ["d-help", "d-safe"], { maxPairs: 2 });
    assert.deepEqual(capped.train.map((p) => p.prompt), ["p1", "p4", "p7", "p8"]);
    assert.deepEqual(capped.validation.map((p) => p.prompt), ["p3", "p6"]);
    assert.deepEqual(trainingPairs(snapshots, ["d-help", "d-safe"], { maxPairs: 2 }), capped, "deterministic");
    assert.equal(trainingPairs(snapshots, ["d-help", "d-safe"], { maxPairs: null }).train.length, 6);
    assert.equal(trainingPairs(snapshots, ["d-help", "d-safe"]).train.length, 6);
  });

  it("the job's template renders bare prompts (PKU-SafeRLHF, generic) and joins their responses; HH-RLHF prompts stay as they are", async () => {
    const pku = parseSnapshot([record(1, "TRAIN", { better: 1 }), record(2, "TRAIN", { better: 0 })].join("\n"), "pku");
    const hhRecord = { ...JSON.parse(record(3, "TRAIN", { preferred: 1 })), prompt: "\n\nHuman: hi\n\nAssistant:", response0: " yes", response1: " no" };
    const hh = parseSnapshot(JSON.stringify(hhRecord), "hh");
    const snapshots: SnapshotForTraining[] = [
      { records: pku, dimensionMap: { better: "d-help" }, format: "PKU_SAFERLHF" },
      { records: hh, dimensionMap: { preferred: "d-humor" }, format: "HH_RLHF" },
    ];
    const templated = await templatedSnapshots(snapshots, { kind: "named", name: "PKU" });
    const { train } = trainingPairs(templated, ["d-help", "d-humor"]);
    assert.deepEqual(
      train.map((p) => [p.prompt, ...p.responses]),
      [
        ["BEGINNING OF CONVERSATION: USER: p1 ASSISTANT:", " a1", " b1"],
        ["BEGINNING OF CONVERSATION: USER: p2 ASSISTANT:", " a2", " b2"],
        ["\n\nHuman: hi\n\nAssistant:", " yes", " no"],
      ],
    );
    assert.deepEqual(await templatedSnapshots(snapshots, null), snapshots, "a payload without a template trains every prompt as it is");
    assert.deepEqual(await templatedSnapshots([{ records: pku, dimensionMap: {} }], { kind: "named", name: "HH" }), [{ records: pku, dimensionMap: {} }], "no format: as it is");
    const generic = await templatedSnapshots([{ records: pku, dimensionMap: {}, format: "GENERIC" }], { kind: "named", name: "HH" });
    assert.equal(generic[0].records[0].prompt, "\n\nHuman: p1\n\nAssistant:");

    const sandbox = new ChatTemplateSandbox();
    try {
      const chatml = await templatedSnapshots(snapshots, { kind: "jinja", template: CHATML_TEMPLATE, bosToken: null, eosToken: "<|im_end|>" }, sandbox);
      assert.deepEqual([chatml[0].records[0].prompt, chatml[0].records[0].response0], ["<|im_start|>user\np1<|im_end|>\n<|im_start|>assistant\n", "a1"]);
      assert.equal(chatml[1], snapshots[1]);
      await assert.rejects(
        templatedSnapshots(snapshots, { kind: "jinja", template: "{{ raise_exception('no') }}", bosToken: null, eosToken: null }, sandbox),
        (e: unknown) => e instanceof ChatTemplateError && /no/.test(e.message),
      );
    } finally {
      await sandbox.close();
    }
  });

  it("maps projection names to adapter targets and rejects unknown ones", () => {
    assert.deepEqual(adapterTargets(["q_proj", "v_proj", "q", "down_proj"]), ["q", "v", "down"]);
    assert.throws(() => adapterTargets(["qkv"]), (e: unknown) => e instanceof UnknownTargetError && /"qkv"/.test(e.message));
  });
});
