/** @module bench/hh-pairs — what the recipe benches (alpha-cadence.ts, truncation.ts) share: stories260K, the HH-RLHF
 *  helpful-base / harmless-base pairs of ../shared/data as two objectives, and mean ± standard error. Each file's
 *  records are split by pair hash (engine-independent): 80 % train pool, 20 % held out; the first `pairs` train and
 *  `heldOut` held-out pairs of each objective are used. */
import { readFileSync } from "node:fs";
import { hashToUnitInterval, parseDataset, type PreferenceRecord } from "../src/contracts/datasets/index.ts";
import { loadGguf, type LoadedModel, type PreferencePair } from "../src/gpu-runner/engine/index.ts";

export const HH_OBJECTIVES = ["helpful", "harmless"] as const;

const DATA = new URL("../../shared/data/", import.meta.url);
const FILES = { helpful: "hh-rlhf/helpful-base.test.jsonl.gz", harmless: "hh-rlhf/harmless-base.test.jsonl.gz" } as const;

export async function loadStories260k(): Promise<LoadedModel> {
  return loadGguf(new URL("tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf", DATA).pathname);
}

/** Train and held-out pairs, each labelled for its own objective only. */
export function loadHhPairs(pairs: number, heldOut: number): { train: PreferencePair[]; heldOut: PreferencePair[] } {
  const out = { train: [] as PreferencePair[], heldOut: [] as PreferencePair[] };
  for (const dim of HH_OBJECTIVES) {
    const records = parseDataset(readFileSync(new URL(FILES[dim], DATA)), "HH_RLHF", { splitRatios: { train: 1, validation: 0, test: 0 } }).records;
    const pair = (r: PreferenceRecord): PreferencePair => ({
      prompt: r.prompt,
      responses: [r.response0, r.response1],
      preferred: HH_OBJECTIVES.map((d) => (d === dim ? r.preferences.preferred : null)),
    });
    const u = (r: PreferenceRecord) => hashToUnitInterval(r.pairHash);
    out.train.push(...records.filter((r) => u(r) < 0.8).slice(0, pairs).map(pair));
    out.heldOut.push(...records.filter((r) => u(r) >= 0.8).slice(0, heldOut).map(pair));
  }
  return out;
}

/** "mean ± SE" of `xs` to 4 decimals (SE NaN for one value). */
export function meanSe(xs: readonly number[]): string {
  const m = xs.reduce((s, x) => s + x, 0) / xs.length;
  const se = xs.length > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1) / xs.length) : NaN;
  return `${m.toFixed(4)} ± ${se.toFixed(4)}`;
}
