/** @module bench/truncation
 * Does the pair truncation rule matter (issue 13 item 4)? Trains PARM on stories260K × HH-RLHF (helpful-base vs
 * harmless-base, ../shared/data) with TRL's rule (`truncation: TRL`, the reference: a cut prompt keeps its last
 * maxPromptLength tokens and can lose BOS, responses cut to maxLength − maxPromptLength) and the rule before it
 * (`PREFIX_SHARED`: BOS kept, responses fill maxLength), same seeds, same data, everything else the reference
 * recipe except the lengths and the pair counts; the held-out pairs are tokenized by the rule being trained.
 * Reports how many training pairs each rule cuts, and the held-out loss and accuracy at each objective's vertex
 * α = e_i after training, per seed and as mean ± SE over seeds.
 * Data: each file's records split by pair hash (engine-independent): 80 % train pool, 20 % held out; the first
 * --pairs train and --held-out held-out pairs of each objective are used.
 * Usage: node --import @swc-node/register/esm-register bench/truncation.ts [--seeds 1,2,3] [--pairs 512]
 *        [--held-out 200] [--max-length 256] [--batch-pairs 4] [--grad-accum 8] [--epochs 2] [--threads 2]
 */
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { trainArm } from "../src/gpu-runner/engine/index.ts";
import { HH_OBJECTIVES, loadHhPairs, loadStories260k, meanSe } from "./hh-pairs.ts";

const { values: argv } = parseArgs({
  options: {
    seeds: { type: "string", default: "1,2,3" },
    pairs: { type: "string", default: "512" },
    "held-out": { type: "string", default: "200" },
    "max-length": { type: "string", default: "256" },
    "batch-pairs": { type: "string", default: "4" },
    "grad-accum": { type: "string", default: "8" },
    epochs: { type: "string", default: "2" },
    threads: { type: "string", default: "2" },
  },
});
const N = (name: keyof typeof argv) => Number(argv[name]);
const log = (message: string): void => void process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);

const model = await loadStories260k();
const objectives = HH_OBJECTIVES;
const { train, heldOut } = loadHhPairs(N("pairs"), N("held-out"));

const seeds = argv.seeds!.split(",").map(Number);
const rules = ["TRL", "PREFIX_SHARED"] as const;
type Row = { rule: string; truncated: number; seed: number; loss: number[]; accuracy: number[]; meanLoss: number; meanAccuracy: number; seconds: number };
const rows: Row[] = [];
const started = performance.now();
for (const seed of seeds) {
  for (const truncation of rules) {
    const t0 = performance.now();
    const result = await trainArm({
      model,
      objectives: objectives.map((name) => ({ name, beta: 0.01 })),
      pairs: train,
      validationPairs: heldOut,
      evaluateBefore: false,
      truncation,
      seed,
      // The reference recipe (docs/engine.md "Training defaults"), spelled out so the bench does not drift with them.
      r1: 4, r2: 4, loraAlpha: 8, loraDropout: 0.05, lr: 5e-4, warmupSteps: 20, weightDecay: 0.05, dirichletP: 0.5,
      maxLength: N("max-length"),
      maxPromptLength: Math.floor(N("max-length") / 2),
      batchPairs: N("batch-pairs"),
      gradAccum: N("grad-accum"),
      epochs: N("epochs"),
      threads: N("threads"),
    });
    const after = result.metrics.heldOutAfter!;
    const row: Row = {
      rule: truncation,
      truncated: result.metrics.truncatedPairs,
      seed,
      loss: after.objectives.map((o) => o.loss),
      accuracy: after.objectives.map((o) => o.accuracy),
      meanLoss: after.meanLoss,
      meanAccuracy: after.objectives.reduce((s, o) => s + o.accuracy, 0) / after.objectives.length,
      seconds: (performance.now() - t0) / 1000,
    };
    rows.push(row);
    log(`${truncation} seed ${seed}: ${result.metrics.steps} updates, loss ${row.loss.map((x) => x.toFixed(4)).join("/")}, accuracy ${row.accuracy.map((x) => x.toFixed(3)).join("/")} (${row.seconds.toFixed(0)} s)`);
  }
}

const lines = [
  `stories260K × HH-RLHF, ${train.length} train / ${heldOut.length} held-out pairs, maxLength ${N("max-length")}, ${N("batch-pairs")} pairs × ${N("grad-accum")} micro-batches per update, ${N("epochs")} epochs, seeds ${seeds.join(", ")}`,
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, load ${loadavg().map((x) => x.toFixed(1)).join(" ")}, ${((performance.now() - started) / 1000).toFixed(0)} s`,
  "",
  "| rule | seed | training pairs cut | held-out loss helpful / harmless | accuracy helpful / harmless |",
  "|---|---|---|---|---|",
  ...rows.map((r) => `| ${r.rule} | ${r.seed} | ${r.truncated} of ${train.length} | ${r.loss.map((x) => x.toFixed(4)).join(" / ")} | ${r.accuracy.map((x) => x.toFixed(3)).join(" / ")} |`),
  "",
  "| rule | mean vertex loss (mean ± SE) | mean vertex accuracy (mean ± SE) |",
  "|---|---|---|",
  ...rules.map((c) => {
    const of = rows.filter((r) => r.rule === c);
    return `| ${c} | ${meanSe(of.map((r) => r.meanLoss))} | ${meanSe(of.map((r) => r.meanAccuracy))} |`;
  }),
];
process.stdout.write(lines.join("\n") + "\n");
