/** @module gpu-runner/cli/args.test
 * Option parsing (space and `=` forms, repeats, flags, typed accessors), the progress/report renderers, and the
 * `--data` / `--beta` helpers.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CliUsageError, parseArgs } from "./args.ts";
import { parseDataSource, parseKeyValues } from "./data.ts";
import { formatDuration, ProgressWriter, renderHeldOutReport, renderProgress } from "./progress.ts";

const specs = { model: {}, data: { repeat: true }, lr: {}, alpha: {}, quiet: { flag: true } };

describe("parseArgs", () => {
  test("space and = forms, repeated options, flags and typed accessors", () => {
    const a = parseArgs(["train", "--model", "m.gguf", "--data=a=x.jsonl", "--data", "b=y.jsonl", "--lr", "5e-4", "--alpha", "0.25,0.75", "--quiet"], specs);
    assert.equal(a.command, "train");
    assert.equal(a.required("model"), "m.gguf");
    assert.deepEqual(a.all("data"), ["a=x.jsonl", "b=y.jsonl"]);
    assert.equal(a.number("lr"), 5e-4);
    assert.deepEqual(a.numbers("alpha"), [0.25, 0.75]);
    assert.equal(a.flag("quiet"), true);
    assert.equal(a.integer("missing" as never, 7), 7);
  });

  test("usage errors name the option", () => {
    const cases: [string[], RegExp][] = [
      [["--model", "x"], /command comes first/],
      [["train", "--nope", "1"], /unknown option --nope/],
      [["train", "--model"], /--model needs a value/],
      [["train", "--model", "a", "--model", "b"], /--model is given twice/],
      [["train", "--quiet=1"], /--quiet takes no value/],
      [["train", "stray"], /unexpected argument "stray"/],
    ];
    for (const [argv, pattern] of cases) assert.throws(() => parseArgs(argv, specs), (e: unknown) => e instanceof CliUsageError && pattern.test(e.message));
    const a = parseArgs(["train", "--lr", "fast", "--alpha", "1,x"], specs);
    assert.throws(() => a.number("lr"), /--lr must be a number, got "fast"/);
    assert.throws(() => a.numbers("alpha"), /--alpha must be comma-separated numbers/);
    assert.throws(() => a.required("model"), /--model is required/);
  });

  test("--data and name=value helpers", () => {
    assert.deepEqual(parseDataSource("helpful=a/b.jsonl"), { dimension: "helpful", path: "a/b.jsonl" });
    assert.deepEqual(parseDataSource("pku.jsonl"), { path: "pku.jsonl" });
    assert.throws(() => parseDataSource("=x"), CliUsageError);
    assert.deepEqual(parseKeyValues("better=helpful,safer=harmless", "--label-map"), { better: "helpful", safer: "harmless" });
    assert.throws(() => parseKeyValues("better", "--label-map"), /--label-map must be name=value/);
  });
});

describe("progress rendering", () => {
  const progress = { step: 5, totalSteps: 10, percent: 50, etaSeconds: 65, lossPerObjective: [0.69314, NaN], loss: 0.5, tokensPerSecond: 1234.4, learningRate: 1e-3, epoch: 0, phase: 0 };

  test("the line shows bar, step, per-objective loss, tokens/s and ETA", () => {
    assert.equal(renderProgress(progress, ["helpful", "harmless"], 10), "[#####-----]  50.0% step 5/10 · loss helpful 0.6931 harmless – · 1234 tok/s · ETA 1m05s");
    assert.equal(formatDuration(42.4), "42s");
    assert.equal(formatDuration(3725), "1h02m");
    assert.equal(formatDuration(Infinity), "?");
  });

  test("a non-TTY writer prints every 5% and the last step; a TTY redraws in place", () => {
    const lines: string[] = [];
    const writer = new ProgressWriter({ write: (t: string) => lines.push(t) }, ["a"], 25);
    for (let step = 1; step <= 10; step++) writer.update({ ...progress, step, percent: step * 10, lossPerObjective: [1] });
    assert.deepEqual(lines.map((l) => /step (\d+)/.exec(l)![1]), ["1", "4", "7", "10"]);
    const tty: string[] = [];
    new ProgressWriter({ write: (t: string) => tty.push(t), isTTY: true }, ["a"]).update({ ...progress, step: 10, percent: 100, lossPerObjective: [1] });
    assert.ok(tty[0].startsWith("\r\x1b[2K[") && tty[1] === "\n");
  });

  test("the held-out table lists before → after per objective", () => {
    const report = (loss: number, acc: number) => ({ objectives: [{ name: "helpful", pairs: 10, loss, accuracy: acc }], meanLoss: loss, front: [] });
    const text = renderHeldOutReport(report(0.5, 0.6), report(0.7, 0.45));
    assert.match(text, /helpful\s+10\s+0\.7000 → 0\.5000\s+45\.0% → 60\.0%/);
    assert.match(text, /mean loss 0\.7000 → 0\.5000/);
  });
});
