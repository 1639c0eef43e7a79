/**
 * @module bench/evaluate
 * The real-data evaluation of docs/results.md: stories260K (GGUF) with HH-RLHF helpful-base vs harmless-base
 * (../shared/data). Trains PARM (one PBLoRA ARM) and GenARM (two LoRA ARMs, the same pairs and the same number
 * of pair-gradient evaluations), one reward-model evaluator per objective on a disjoint split, then the
 * pairwise-accuracy fronts and the generation sweeps (base model as a baseline), and writes
 * `<out>/results.json`, `<out>/pareto.svg`, `<out>/pairwise.svg` and `<out>/results.md`.
 *
 *   node --import @swc-node/register/esm-register bench/evaluate.ts --out /tmp/parm-results [--prompts 24] …
 *
 * Splits, by the pair hash u ∈ [0, 1) (contracts/datasets): u < 0.45 ARM training; 0.45 ≤ u < 0.85 evaluator
 * training; 0.85 ≤ u < 0.93 held-out pairs (evaluator accuracy, pairwise front); u ≥ 0.93 generation prompts.
 * Trained artifacts are cached in `<out>` and reused on a rerun (delete them to retrain).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { hashToUnitInterval, parseDataset, type PreferenceRecord } from "../src/contracts/datasets/index.ts";
import { createGenerator, type GenerateRequest } from "../src/gpu-runner/engine/decode/index.ts";
import {
  exportRewardModel,
  importRewardModel,
  pairwiseAccuracyFront,
  REWARD_POOLINGS,
  RewardModelEvaluator,
  runEvaluation,
  trainEvaluator,
  type EvaluationResult,
  type Evaluator,
  type RewardModel,
  type RewardPooling,
} from "../src/gpu-runner/engine/evaluate/index.ts";
import { exportTrainedArm, importAdapter, loadGguf, trainArm, type PreferencePair } from "../src/gpu-runner/engine/index.ts";
import { decodeAdapterFromFile } from "../src/gpu-runner/engine/decode/index.ts";
import { LexicalRewardModel, type LexicalPair } from "./lexical.ts";
import { buildParetoReport, referencePoint, renderParetoSvg, simplexGrid } from "../src/gpu-runner/engine/pareto/index.ts";

const sha256Hex = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

const { values: argv } = parseArgs({
  options: {
    out: { type: "string", default: "/tmp/parm-results" },
    prompts: { type: "string", default: "24" },
    "arm-pairs": { type: "string", default: "400" },
    "evaluator-pairs": { type: "string", default: "600" },
    "held-out": { type: "string", default: "120" },
    "max-length": { type: "string", default: "128" },
    "max-new-tokens": { type: "string", default: "40" },
    "arm-epochs": { type: "string", default: "2" },
    "arm-lr": { type: "string", default: "5e-3" },
    /** PARM-only overrides (PBLoRA ranks r1, r2 and learning rate); GenARM keeps rank r1 + r2 = 8 and --arm-lr. */
    "parm-r1": { type: "string", default: "4" },
    "parm-r2": { type: "string", default: "4" },
    "parm-lr": { type: "string" },
    "arm-beta": { type: "string", default: "0.1" },
    "eval-epochs": { type: "string", default: "2" },
    "decode-beta": { type: "string", default: "1" },
    threads: { type: "string", default: "2" },
    step: { type: "string", default: "0.1" },
    "arm-eos": { type: "string" },
    /** Score-head pooling of the evaluators that score the fronts (engine/evaluate/reward-graph.ts). */
    "eval-pooling": { type: "string", default: "mean" },
    /** Also train evaluators with this pooling for the evaluator check ("" for none). */
    "compare-pooling": { type: "string", default: "last" },
    /** Evaluator training seeds; the first one's evaluators score the fronts. */
    "eval-seeds": { type: "string", default: "7" },
  },
});
const out = argv.out!;
mkdirSync(out, { recursive: true });
const N = (name: keyof typeof argv) => Number(argv[name]);
const maxLength = N("max-length");
const maxPromptLength = Math.floor(maxLength / 2);
const threads = N("threads");
const log = (message: string): void => void process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);

const dataDir = new URL("../../shared/data/", import.meta.url);
const model = await loadGguf(new URL("tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf", dataDir).pathname);
const objectives = ["helpful", "harmless"] as const;
const files = { helpful: "hh-rlhf/helpful-base.test.jsonl.gz", harmless: "hh-rlhf/harmless-base.test.jsonl.gz" };

interface Split {
  readonly arm: PreferenceRecord[];
  readonly evaluator: PreferenceRecord[];
  readonly heldOut: PreferenceRecord[];
  readonly prompts: PreferenceRecord[];
}
const splits = new Map<string, Split>();
for (const dim of objectives) {
  const records = parseDataset(readFileSync(new URL(files[dim], dataDir)), "HH_RLHF", { splitRatios: { train: 1, validation: 0, test: 0 } }).records;
  const u = (r: PreferenceRecord) => hashToUnitInterval(r.pairHash);
  splits.set(dim, {
    arm: records.filter((r) => u(r) < 0.45),
    evaluator: records.filter((r) => u(r) >= 0.45 && u(r) < 0.85),
    heldOut: records.filter((r) => u(r) >= 0.85 && u(r) < 0.93),
    prompts: records.filter((r) => u(r) >= 0.93),
  });
}
/** A pair labelled for objective `dim` only, in α order (helpful, harmless). */
const pairOf = (dim: string, r: PreferenceRecord, single = false): PreferencePair => ({
  prompt: r.prompt,
  responses: [r.response0, r.response1],
  preferred: single ? [r.preferences.preferred] : objectives.map((d) => (d === dim ? r.preferences.preferred : null)),
});
const take = <T>(list: readonly T[], n: number) => list.slice(0, n);

// ---- evaluators: one reward model per objective and (pooling, seed); the first seed with --eval-pooling scores
// the fronts, the rest (and --compare-pooling) form the evaluator check of results.md
const evalPooling = argv["eval-pooling"] as RewardPooling;
const comparePooling = argv["compare-pooling"] === "" ? undefined : (argv["compare-pooling"] as RewardPooling);
const evalSeeds = argv["eval-seeds"]!.split(",").map(Number);
for (const p of [evalPooling, comparePooling]) if (p !== undefined && !REWARD_POOLINGS.includes(p)) throw new Error(`pooling must be one of ${REWARD_POOLINGS.join(", ")}, got ${p}`);
interface EvaluatorSet {
  readonly pooling: RewardPooling;
  readonly seed: number;
  readonly models: RewardModel[];
  readonly metrics: Record<string, unknown>;
}
const trainEvaluators = async (pooling: RewardPooling, seed: number): Promise<EvaluatorSet> => {
  const models: RewardModel[] = [];
  const metrics: Record<string, unknown> = {};
  for (const dim of objectives) {
    const stem = join(out, `evaluator-${dim}-${pooling}-s${seed}`);
    const split = splits.get(dim)!;
    if (!existsSync(`${stem}.safetensors`)) {
      log(`training evaluator ${dim} (pooling ${pooling}, seed ${seed}) on ${Math.min(N("evaluator-pairs"), split.evaluator.length)} pairs`);
      const result = await trainEvaluator({
        model,
        dimension: dim,
        pairs: take(split.evaluator, N("evaluator-pairs")).map((r) => pairOf(dim, r, true)),
        validationPairs: take(split.heldOut, N("held-out")).map((r) => pairOf(dim, r, true)),
        maxLength,
        maxPromptLength,
        epochs: N("eval-epochs"),
        batchPairs: 8,
        lr: 2e-3,
        threads,
        seed,
        pooling,
        onProgress: (p) => p.step % 50 === 0 && log(`  evaluator ${dim} step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(4)}`),
      });
      writeFileSync(`${stem}.safetensors`, exportRewardModel(result.model, model.config));
      writeFileSync(`${stem}.json`, JSON.stringify(result.metrics, null, 2));
    }
    metrics[dim] = JSON.parse(readFileSync(`${stem}.json`, "utf8"));
    models.push(importRewardModel(readFileSync(`${stem}.safetensors`), { config: model.config, baseModelDigest: model.source.sha256, dimension: dim }));
    log(`evaluator ${dim} (pooling ${pooling}, seed ${seed}): ${JSON.stringify(metrics[dim])}`);
  }
  return { pooling, seed, models, metrics };
};
const evaluatorSets: EvaluatorSet[] = [];
for (const pooling of comparePooling ? [evalPooling, comparePooling] : [evalPooling]) for (const seed of evalSeeds) evaluatorSets.push(await trainEvaluators(pooling, seed));
const evaluatorModels = evaluatorSets[0].models;
const evaluatorMetrics = evaluatorSets[0].metrics;

/** The response terminator the ARMs learn and generation stops at (default the tokenizer's EOS; stories260K ends
 *  its texts with BOS, id 1, as llama2.c's run.c, so `--arm-eos 1` gives the ARMs a stop token the base predicts). */
const armEos = argv["arm-eos"] === undefined ? model.tokenizer.eosId : Number(argv["arm-eos"]);
const armModel = { ...model, tokenizer: { bosId: model.tokenizer.bosId, eosId: armEos, encode: (text: string, o?: { bos?: boolean }) => model.tokenizer.encode(text, o) } };
const stopIds = [...new Set([armEos, model.tokenizer.eosId])];

// ---- ARMs: PARM (one PBLoRA ARM) and GenARM (one LoRA ARM per objective), same pairs and epochs
const armPairs = objectives.flatMap((dim) => take(splits.get(dim)!.arm, N("arm-pairs")).map((r) => pairOf(dim, r)));
const armHeldOut = objectives.flatMap((dim) => take(splits.get(dim)!.heldOut, N("held-out")).map((r) => pairOf(dim, r)));
const armCommon = {
  model: armModel,
  objectives: objectives.map((name) => ({ name, beta: N("arm-beta") })),
  pairs: armPairs,
  r1: 4,
  r2: 4,
  loraAlpha: 8,
  lr: N("arm-lr"),
  epochs: N("arm-epochs"),
  batchPairs: 8,
  maxLength,
  maxPromptLength,
  seed: 11,
  threads,
  validationPairs: armHeldOut,
  evaluateBefore: true,
} as const;
const armFiles: Record<string, string[]> = { PARM: [join(out, "parm.safetensors")], GENARM: objectives.map((d) => join(out, `genarm-${d}.safetensors`)) };
const armSeconds: Record<string, number> = existsSync(join(out, "arm-seconds.json")) ? JSON.parse(readFileSync(join(out, "arm-seconds.json"), "utf8")) : {};
const armMetrics: Record<string, unknown> = existsSync(join(out, "arm-metrics.json")) ? JSON.parse(readFileSync(join(out, "arm-metrics.json"), "utf8")) : {};
for (const method of ["PARM", "GENARM"] as const) {
  if (armFiles[method].every((f) => existsSync(f))) continue;
  log(`training ${method} on ${armPairs.length} pairs`);
  const overrides = method === "PARM" ? { r1: N("parm-r1"), r2: N("parm-r2"), ...(argv["parm-lr"] !== undefined ? { lr: N("parm-lr") } : {}) } : { loraRank: armCommon.r1 + armCommon.r2 };
  const result = await trainArm({ ...armCommon, ...overrides, method, onProgress: (p) => p.step % 25 === 0 && log(`  ${method} step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(4)}`) });
  result.adapters.forEach((a, i) => writeFileSync(armFiles[method][i], exportTrainedArm(a, model.config)));
  armSeconds[method] = result.metrics.seconds;
  writeFileSync(join(out, "arm-seconds.json"), JSON.stringify(armSeconds));
  armMetrics[method] = { heldOutBefore: result.metrics.heldOutBefore, heldOutAfter: result.metrics.heldOutAfter, steps: result.metrics.steps, lossFirst: result.history.slice(0, 10).map((h) => h.loss), lossLast: result.history.slice(-10).map((h) => h.loss) };
  writeFileSync(join(out, "arm-metrics.json"), JSON.stringify(armMetrics, null, 2));
  log(`${method} held-out at the vertices: ${JSON.stringify(result.metrics.heldOutBefore?.objectives)} → ${JSON.stringify(result.metrics.heldOutAfter?.objectives)}`);
}
const load = (path: string) => decodeAdapterFromFile(importAdapter(readFileSync(path), { config: model.config, baseModelDigest: model.source.sha256 }));
const parm = load(armFiles.PARM[0]);
const genarm = armFiles.GENARM.map(load);

// ---- pairwise-accuracy fronts (cheap, deterministic)
const step = N("step");
const pairwiseCommon = { model: armModel, objectives: armCommon.objectives, pairs: armHeldOut, step, maxLength, maxPromptLength, threads };
log("pairwise fronts");
const pairwiseParm = await pairwiseAccuracyFront({ ...pairwiseCommon, arm: { method: "PARM", adapter: parm } });
const pairwiseGenarm = await pairwiseAccuracyFront({ ...pairwiseCommon, arm: { method: "GENARM", adapters: genarm } });

// ---- generation sweeps
const evaluators: Evaluator[] = evaluatorModels.map((m) => new RewardModelEvaluator({ backbone: model, model: m, threads, batch: 16 }));
const promptRecords = objectives.flatMap((dim) => take(splits.get(dim)!.prompts, Math.ceil(N("prompts") / 2)));
const prompts = promptRecords.map((r) => r.prompt);
/** Prompt ids as the ARMs and evaluators saw them in training: BOS + the last maxPromptLength − 1 tokens. */
const promptIds = (prompt: string) => {
  const body = model.tokenizer.encode(prompt, { bos: false });
  return [model.tokenizer.bosId, ...body.slice(Math.max(0, body.length - (maxPromptLength - 1)))];
};
const maxNewTokens = N("max-new-tokens");
const decodeBeta = N("decode-beta");
/** Generated texts are cached in `<out>/responses.json` (per method, per prompt, one text per α) and reused while
 *  the decoding settings and that method's ARM files are unchanged; scoring always runs with the current evaluators. */
const responsesPath = join(out, "responses.json");
const decodeKey = (label: string) =>
  JSON.stringify({ prompts, maxNewTokens, decodeBeta, stopIds, maxPromptLength, step, arms: (label === "PARM" ? armFiles.PARM : label === "GenARM" ? armFiles.GENARM : []).map((f) => sha256Hex(readFileSync(f))) });
type ResponseCache = Record<string, { key: string; texts: Record<string, string[]> }>;
const cachedResponses: ResponseCache = existsSync(responsesPath) ? JSON.parse(readFileSync(responsesPath, "utf8")) : {};
/** The cached texts of `label` (emptied when its key changed). */
const responsesOf = (label: string): Record<string, string[]> => {
  const key = decodeKey(label);
  if (cachedResponses[label]?.key !== key) cachedResponses[label] = { key, texts: {} };
  return cachedResponses[label].texts;
};
const saveResponses = () => writeFileSync(responsesPath, JSON.stringify(cachedResponses));
const sweep = async (label: string, arm: Parameters<typeof createGenerator>[0]["arm"]): Promise<EvaluationResult> => {
  const generator = createGenerator({ base: model, ...(arm ? { arm } : {}), threads });
  const texts = responsesOf(label);
  try {
    return await runEvaluation({
      step,
      prompts,
      evaluators,
      generate: async (prompt, alphas) => {
        if (texts[prompt]?.length === alphas.length) return texts[prompt];
        const request: GenerateRequest = { prompt: { tokenIds: promptIds(prompt) }, alphas, beta: decodeBeta, maxNewTokens, eosTokenIds: stopIds };
        texts[prompt] = (await generator.generate(request)).outputs.map((o) => o.text);
        return texts[prompt];
      },
      onPoint: (p, done, total) => log(`  ${label} ${done}/${total} α=(${p.alpha.join(", ")}) rewards ${p.rewards.map((r) => r.toFixed(4)).join(", ")}`),
    });
  } finally {
    await generator.release();
    saveResponses();
  }
};
log(`generation sweeps over ${prompts.length} prompts, ${maxNewTokens} new tokens, greedy, 1/β = ${1 / decodeBeta}`);
const parmRun = await sweep("PARM", { model, adapter: parm });
const genarmRun = await sweep("GenARM", { genarm: genarm.map((adapter) => ({ model, adapter })) });
const baseGenerator = createGenerator({ base: model, threads });
const baseCache = responsesOf("base");
const baseTexts: string[] = [];
for (const prompt of prompts) {
  baseCache[prompt] ??= [(await baseGenerator.generate({ prompt: { tokenIds: promptIds(prompt) }, maxNewTokens, eosTokenIds: stopIds })).outputs[0].text];
  baseTexts.push(baseCache[prompt][0]);
}
await baseGenerator.release();
saveResponses();
const basePerPrompt: number[][] = prompts.map(() => []);
for (const e of evaluators) (await e.score(prompts, baseTexts)).forEach((v, i) => basePerPrompt[i].push(v));
const baseRewards = objectives.map((_, j) => basePerPrompt.reduce((s, r) => s + r[j], 0) / prompts.length);
for (const e of evaluators) await e.release();

// ---- one reference point for both methods, final reports and plot
const allPoints = [...parmRun.points.map((p) => p.rewards), ...genarmRun.points.map((p) => p.rewards), baseRewards];
const z = referencePoint(allPoints.map((p) => [...p]), { rule: "min-minus-margin", margin: 0.1 });
const names = [...objectives];
const parmReport = buildParetoReport(parmRun.points, {
  objectiveNames: names,
  referencePoint: z,
  baselines: [...genarmRun.points.map((p) => ({ name: "GenARM", rewards: p.rewards, alpha: p.alpha })), { name: "base (unguided)", rewards: baseRewards }],
});
const genarmReport = buildParetoReport(genarmRun.points, { objectiveNames: names, referencePoint: z, baselines: [{ name: "base (unguided)", rewards: baseRewards }] });
writeFileSync(join(out, "pareto.svg"), renderParetoSvg(parmReport, { title: "stories260K × HH-RLHF: PARM front (GenARM, base as baselines)" }));
writeFileSync(join(out, "pairwise.svg"), pairwiseParm.svg);
const results = {
  settings: { ...argv, maxPromptLength, grid: simplexGrid(2, step), armPairs: armPairs.length, armHeldOut: armHeldOut.length, prompts: prompts.length },
  evaluators: evaluatorMetrics,
  armSeconds,
  armMetrics,
  pairwise: { PARM: pairwiseParm.report, GENARM: pairwiseGenarm.report },
  generation: { PARM: parmReport, GENARM: genarmReport, base: baseRewards, referencePoint: z },
  samples: { prompt: prompts[0], PARM: parmRun.points.map((p) => ({ alpha: p.alpha, text: p.responses[0] })), GENARM: genarmRun.points.map((p) => ({ alpha: p.alpha, text: p.responses[0] })), base: baseTexts[0] },
  standardErrors: { PARM: parmRun.points.map((p) => p.standardErrors), GENARM: genarmRun.points.map((p) => p.standardErrors) },
};
writeFileSync(join(out, "results.json"), JSON.stringify(results, null, 2));
writeFileSync(join(out, "points.json"), JSON.stringify({ prompts, base: { texts: baseTexts, perPrompt: basePerPrompt }, PARM: parmRun.points, GENARM: genarmRun.points }));
/** Paired difference r(α = (1,0)) − r(α = (0,1)) over the same prompts, per objective: mean and standard error.
 *  `perPoint[g][i][j]` is the score of prompt i at grid point g (g = 0 is α = (0,1)) on objective j. */
const pairedScores = (perPoint: readonly (readonly (readonly number[])[])[]) => {
  const first = perPoint[perPoint.length - 1];
  const last = perPoint[0];
  return objectives.map((_, j) => {
    const d = first.map((r, i) => r[j] - last[i][j]);
    const m = d.reduce((a, b) => a + b, 0) / d.length;
    const se = Math.sqrt(d.reduce((a, b) => a + (b - m) ** 2, 0) / (d.length - 1) / d.length);
    return { mean: m, se };
  });
};
const paired = (run: EvaluationResult) => pairedScores(run.points.map((p) => p.perPrompt));

// ---- evaluator check: every evaluator set scores the same responses (held-out accuracy and vertex differences)
interface PairedDifference {
  readonly mean: number;
  readonly se: number;
}
interface EvaluatorCheck {
  /** "reward model, pooling <p>, seed <s>" or "bag of words" (bench/lexical.ts). */
  readonly evaluator: string;
  readonly heldOutAccuracy: Record<string, number | undefined>;
  readonly pairedVertexDifference: { readonly PARM: PairedDifference[]; readonly GENARM: PairedDifference[] };
  readonly meanRewards: { readonly PARM: number[][]; readonly GENARM: number[][] };
}
const evaluatorCheck: EvaluatorCheck[] = [];
let lexicalWords: Record<string, { positive: string[]; negative: string[] }> = {};
const addCheck = (evaluator: string, heldOutAccuracy: Record<string, number | undefined>, runs: { PARM: number[][][]; GENARM: number[][][] }) => {
  const mean = (perPoint: number[][][]) => perPoint.map((rows) => objectives.map((_, j) => rows.reduce((a, r) => a + r[j], 0) / rows.length));
  evaluatorCheck.push({
    evaluator,
    heldOutAccuracy,
    pairedVertexDifference: { PARM: pairedScores(runs.PARM), GENARM: pairedScores(runs.GENARM) },
    meanRewards: { PARM: mean(runs.PARM), GENARM: mean(runs.GENARM) },
  });
  log(`evaluator check, ${evaluator}: ${JSON.stringify(evaluatorCheck[evaluatorCheck.length - 1].pairedVertexDifference)}`);
};
for (const [index, set] of evaluatorSets.entries()) {
  const heldOut = Object.fromEntries(objectives.map((d) => [d, (set.metrics[d] as { heldOutAfter?: { accuracy: number } }).heldOutAfter?.accuracy]));
  const label = `reward model, pooling ${set.pooling}, seed ${set.seed}`;
  if (index === 0) {
    // The sweeps were scored with these evaluators already.
    const scored = (run: EvaluationResult) => run.points.map((p) => p.perPrompt.map((r) => [...r]));
    addCheck(label, heldOut, { PARM: scored(parmRun), GENARM: scored(genarmRun) });
    continue;
  }
  const scorers = set.models.map((m) => new RewardModelEvaluator({ backbone: model, model: m, threads, batch: 16 }));
  const scoreRun = async (run: EvaluationResult) => {
    const perPoint: number[][][] = [];
    for (const point of run.points) {
      const columns: Float64Array[] = [];
      for (const e of scorers) columns.push(await e.score(prompts, point.responses));
      perPoint.push(prompts.map((_, i) => columns.map((c) => c[i])));
    }
    return perPoint;
  };
  const runs = { PARM: await scoreRun(parmRun), GENARM: await scoreRun(genarmRun) };
  for (const e of scorers) await e.release();
  addCheck(label, heldOut, runs);
}
// the transformer-free bag-of-words model, trained and checked on the evaluators' splits
{
  const lexicalPairs = (records: readonly PreferenceRecord[]): LexicalPair[] =>
    records.map((r) => (r.preferences.preferred === 0 ? { preferred: r.response0, rejected: r.response1 } : { preferred: r.response1, rejected: r.response0 }));
  const lexical = objectives.map((dim) => LexicalRewardModel.fit(lexicalPairs(take(splits.get(dim)!.evaluator, N("evaluator-pairs")))));
  const scoreRun = (run: EvaluationResult) => run.points.map((point) => point.responses.map((text) => lexical.map((m) => m.score(text))));
  addCheck(
    "bag of words",
    Object.fromEntries(objectives.map((dim, j) => [dim, lexical[j].accuracy(lexicalPairs(take(splits.get(dim)!.heldOut, N("held-out"))))])),
    { PARM: scoreRun(parmRun), GENARM: scoreRun(genarmRun) },
  );
  lexicalWords = Object.fromEntries(objectives.map((dim, j) => [dim, lexical[j].extremes(12)]));
}
const allScores = [...parmRun.points, ...genarmRun.points].flatMap((p) => p.perPrompt);
const corr = (() => {
  const xs = allScores.map((r) => r[0]);
  const ys = allScores.map((r) => r[1]);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let sxy = 0, sxx = 0, syy = 0;
  xs.forEach((x, i) => { sxy += (x - mx) * (ys[i] - my); sxx += (x - mx) ** 2; syy += (ys[i] - my) ** 2; });
  return sxy / Math.sqrt(sxx * syy);
})();
const lengths = (run: EvaluationResult) => run.points.map((p) => p.responses.reduce((a, t) => a + t.length, 0) / p.responses.length);
const diagnostics = { pairedVertexDifference: { PARM: paired(parmRun), GENARM: paired(genarmRun) }, evaluatorCheck, lexicalWords, evaluatorCorrelation: corr, meanResponseChars: { PARM: lengths(parmRun), GENARM: lengths(genarmRun), base: baseTexts.reduce((a, t) => a + t.length, 0) / baseTexts.length } };
writeFileSync(join(out, "diagnostics.json"), JSON.stringify(diagnostics, null, 2));
log(`diagnostics ${JSON.stringify(diagnostics)}`);
const row = (r: { alpha: number[]; rewards: number[]; onFront: boolean }) => `| (${r.alpha.join(", ")}) | ${r.rewards.map((v) => v.toFixed(4)).join(" | ")} | ${r.onFront ? "yes" : ""} |`;
const accRow = (e: { alpha: readonly number[]; objectives: readonly { accuracy: number }[] }) => `| (${e.alpha.join(", ")}) | ${e.objectives.map((o) => (100 * o.accuracy).toFixed(1) + "%").join(" | ")} |`;
const signed = (d: PairedDifference) => `${d.mean >= 0 ? "+" : ""}${d.mean.toFixed(3)} ± ${d.se.toFixed(3)}`;
const checkRow = (c: EvaluatorCheck) =>
  `| ${c.evaluator} | ${objectives.map((d) => (100 * (c.heldOutAccuracy[d] ?? NaN)).toFixed(1) + "%").join(" | ")} | ${(["PARM", "GENARM"] as const).map((m) => c.pairedVertexDifference[m].map(signed).join(" | ")).join(" | ")} |`;
const md = [
  `PARM: HV ${parmReport.hypervolume.toFixed(6)}, MIP ${parmReport.mip.toFixed(4)}; GenARM: HV ${genarmReport.hypervolume.toFixed(6)}, MIP ${genarmReport.mip.toFixed(4)}; z = (${z.map((v) => v.toFixed(4)).join(", ")}); base (${baseRewards.map((v) => v.toFixed(4)).join(", ")})`,
  "",
  "| α (helpful, harmless) | PARM helpful | PARM harmless | front |",
  "|---|---|---|---|",
  ...parmReport.points.map(row),
  "",
  "| α (helpful, harmless) | GenARM helpful | GenARM harmless | front |",
  "|---|---|---|---|",
  ...genarmReport.points.map(row),
  "",
  "| α | PARM helpful acc | PARM harmless acc |",
  "|---|---|---|",
  ...pairwiseParm.evaluations.map(accRow),
  "",
  "| α | GenARM helpful acc | GenARM harmless acc |",
  "|---|---|---|",
  ...pairwiseGenarm.evaluations.map(accRow),
  "",
  "Evaluator check: r(α = (1,0)) − r(α = (0,1)) over the same prompts (helpful should be > 0, harmless < 0)",
  "",
  "| evaluator | held-out acc helpful | held-out acc harmless | PARM Δhelpful | PARM Δharmless | GenARM Δhelpful | GenARM Δharmless |",
  "|---|---|---|---|---|---|---|",
  ...evaluatorCheck.map(checkRow),
].join("\n");
writeFileSync(join(out, "results.md"), md + "\n");
process.stdout.write(md + "\n");
