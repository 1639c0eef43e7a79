/** @module gpu-runner/cli/data.test
 * `--data` loading: single-label HH files become one objective each (null for the others), a multi-label PKU file
 * maps its labels through `--label-map` so one pair carries both, objective order, the hash split, filters, and
 * usage errors. Reads the PKU-SafeRLHF head file from ../shared/data and small files written to a temp folder.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CliUsageError } from "./args.ts";
import { loadPreferencePairs } from "./data.ts";

const pku = fileURLToPath(new URL("../../../../shared/data/pku-saferlhf/alpaca-7b.test.head16.jsonl", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "parm-cli-data-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function hhFile(name: string, n: number): string {
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ chosen: `\n\nHuman: question ${name} ${i}?\n\nAssistant: good answer ${i}`, rejected: `\n\nHuman: question ${name} ${i}?\n\nAssistant: ${"bad ".repeat(1 + (i % 5))}${i}` }),
  );
  const path = join(dir, `${name}.jsonl`);
  writeFileSync(path, lines.join("\n") + "\n");
  return path;
}

describe("loadPreferencePairs", () => {
  test("one HH file per dimension: labels land on their own objective, order follows --data or --objectives", () => {
    const a = hhFile("a", 40);
    const b = hhFile("b", 30);
    const loaded = loadPreferencePairs({ sources: [{ dimension: "helpful", path: a }, { dimension: "harmless", path: b }], format: "HH_RLHF", validationFraction: 0.25 });
    assert.deepEqual(loaded.objectives, ["helpful", "harmless"]);
    assert.equal(loaded.train.length + loaded.validation.length, 70);
    assert.ok(loaded.validation.length > 5 && loaded.validation.length < 35, `${loaded.validation.length} held out`);
    const fromA = [...loaded.train, ...loaded.validation].filter((p) => p.prompt.includes("question a"));
    assert.equal(fromA.length, 40);
    assert.ok(fromA.every((p) => p.preferred[0] === 0 && p.preferred[1] === null && p.responses[0].startsWith(" good answer")));
    const swapped = loadPreferencePairs({ sources: [{ dimension: "helpful", path: a }, { dimension: "harmless", path: b }], format: "HH_RLHF", objectives: ["harmless", "helpful"], validationFraction: 0.25 });
    assert.ok(swapped.train.filter((p) => p.prompt.includes("question a")).every((p) => p.preferred[1] === 0 && p.preferred[0] === null));
    // The split is by content hash, so it is the same whatever the order.
    assert.deepEqual(swapped.validation.map((p) => p.prompt).sort(), loaded.validation.map((p) => p.prompt).sort());
  });

  test("a PKU file carries both labels mapped to dimensions; filters and caps apply per file", () => {
    const loaded = loadPreferencePairs({ sources: [{ path: pku }], format: "PKU_SAFERLHF", labelMap: { better: "helpful", safer: "harmless" }, validationFraction: 0 });
    assert.deepEqual(loaded.objectives, ["helpful", "harmless"]);
    assert.equal(loaded.train.length, 16);
    assert.ok(loaded.train.every((p) => p.preferred.every((x) => x === 0 || x === 1)));
    const capped = loadPreferencePairs({ sources: [{ path: pku }], format: "PKU_SAFERLHF", validationFraction: 0, maxPairs: 5, maxChars: 100000 });
    assert.deepEqual(capped.objectives, ["better", "safer"]);
    assert.equal(capped.train.length, 5);
    const short = loadPreferencePairs({ sources: [{ path: pku }], format: "PKU_SAFERLHF", validationFraction: 0, maxChars: 600 });
    assert.ok(short.train.length < 16 && short.train.every((p) => p.prompt.length + Math.max(...p.responses.map((r) => r.length)) <= 600));
  });

  test("usage errors", () => {
    assert.throws(() => loadPreferencePairs({ sources: [], format: "HH_RLHF", validationFraction: 0 }), /at least one --data/);
    assert.throws(() => loadPreferencePairs({ sources: [{ dimension: "x", path: pku }], format: "PKU_SAFERLHF", validationFraction: 0 }), /needs a single-label format/);
    assert.throws(() => loadPreferencePairs({ sources: [{ dimension: "x", path: join(dir, "none.jsonl") }], format: "HH_RLHF", validationFraction: 0 }), (e: unknown) => e instanceof CliUsageError && /cannot read data file/.test(e.message));
    assert.throws(() => loadPreferencePairs({ sources: [{ dimension: "x", path: hhFile("c", 3) }], format: "HH_RLHF", validationFraction: 1 }), /validation-fraction/);
    assert.throws(() => loadPreferencePairs({ sources: [{ dimension: "x", path: hhFile("d", 3) }], format: "HH_RLHF", objectives: ["y"], validationFraction: 0 }), /--objectives lacks x/);
  });
});
