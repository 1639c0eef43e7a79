/** @module gpu-runner/cli/progress
 * Text rendering for the CLI: the training progress line (bar, step, loss per objective, tokens/s, ETA), durations,
 * and the held-out report table. Pure functions; the caller writes them.
 */
import type { HeldOutReport, TrainProgress } from "../engine/index.ts";

/** `1h02m`, `3m05s`, `42s`; `?` for non-finite input. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function formatLoss(value: number): string {
  return Number.isFinite(value) ? value.toFixed(4) : "–";
}

/** One progress line: `[#####-----]  50.0% step 5/10 · loss helpful 0.6931 harmless – · 1234 tok/s · ETA 12s`. */
export function renderProgress(progress: TrainProgress, objectives: readonly string[], width = 24): string {
  const fraction = Math.min(1, Math.max(0, progress.percent / 100));
  const filled = Math.round(fraction * width);
  const bar = `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
  const losses = objectives.map((name, i) => `${name} ${formatLoss(progress.lossPerObjective[i])}`).join(" ");
  return `${bar} ${progress.percent.toFixed(1).padStart(5)}% step ${progress.step}/${progress.totalSteps} · loss ${losses} · ${Math.round(progress.tokensPerSecond)} tok/s · ETA ${formatDuration(progress.etaSeconds)}`;
}

/** The held-out table: per objective, pairs, loss and accuracy at α = e_i, before (when known) and after. */
export function renderHeldOutReport(after: HeldOutReport, before?: HeldOutReport): string {
  const lines = ["held-out (α = e_i for objective i):", "  objective        pairs   loss before → after     accuracy before → after"];
  after.objectives.forEach((o, i) => {
    const b = before?.objectives[i];
    const loss = `${b ? formatLoss(b.loss) : "   –  "} → ${formatLoss(o.loss)}`;
    const acc = `${b ? formatAccuracy(b.accuracy) : "  –  "} → ${formatAccuracy(o.accuracy)}`;
    lines.push(`  ${o.name.padEnd(16)} ${String(o.pairs).padStart(5)}   ${loss.padEnd(22)}  ${acc}`);
  });
  lines.push(`  mean loss ${before ? `${formatLoss(before.meanLoss)} → ` : ""}${formatLoss(after.meanLoss)}`);
  return lines.join("\n");
}

function formatAccuracy(value: number): string {
  return Number.isFinite(value) ? `${(100 * value).toFixed(1)}%` : "–";
}

/** Writes progress lines: redrawn in place on a TTY, else one line per `every` percent (and the last). */
export class ProgressWriter {
  private lastPercentPrinted = -Infinity;

  constructor(
    private readonly stream: { write(text: string): unknown; isTTY?: boolean },
    private readonly objectives: readonly string[],
    private readonly every = 5,
  ) {}

  update(progress: TrainProgress): void {
    const line = renderProgress(progress, this.objectives);
    if (this.stream.isTTY) {
      this.stream.write(`\r\x1b[2K${line}`);
      if (progress.step === progress.totalSteps) this.stream.write("\n");
      return;
    }
    if (progress.step === progress.totalSteps || progress.percent - this.lastPercentPrinted >= this.every) {
      this.lastPercentPrinted = progress.percent;
      this.stream.write(`${line}\n`);
    }
  }
}
