/**
 * @module engine/pareto/plot
 * An SVG picture of a {@link ParetoReport}, as a self-contained string (no fonts or scripts to fetch).
 *
 * k = 2: one scatter with both axes (ticks, objective names), every sweep point labelled by its α, front points
 *        filled, the front as a step line (the boundary of the region it dominates, closed at z), the reference
 *        point z, baselines as distinct markers, and a legend.
 * k ≥ 3: the same scatter for every pair of objectives (k(k−1)/2 panels; projections carry no step line because
 *        a projected front is not a front).
 * The header states HV, MIP and z. Text is XML-escaped.
 */
import { ParetoInputError, UnreachableCaseError } from "./errors.ts";
import type { ParetoReport } from "./report.ts";

export interface ParetoPlotOptions {
  /** Heading drawn at the top (default "Pareto front"). */
  readonly title?: string;
  /** Size of one scatter panel in pixels (default 560×440 for k = 2, 360×300 per pair for k ≥ 3). */
  readonly panelWidth?: number;
  readonly panelHeight?: number;
}

const FRONT_COLOR = "#1f77b4";
const OFF_FRONT_COLOR = "#8c8c8c";
const REFERENCE_COLOR = "#d62728";
const BASELINE_COLORS = ["#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"];
const BASELINE_SHAPES = ["square", "triangle", "diamond", "cross"] as const;
type MarkerShape = (typeof BASELINE_SHAPES)[number];

const MARGIN = { left: 72, right: 56, top: 20, bottom: 52 } as const;
const HEADER_HEIGHT = 56;
const LEGEND_WIDTH = 270;
const LEGEND_ROW = 20;

/** Renders the report; throws {@link ParetoInputError} ("INVALID_PLOT_OPTIONS") for k < 2 or a bad panel size. */
export function renderParetoSvg(report: ParetoReport, options: ParetoPlotOptions = {}): string {
  const k = report.objectiveNames.length;
  if (k < 2) {
    throw new ParetoInputError("INVALID_PLOT_OPTIONS", `a Pareto plot needs at least 2 objectives, the report has ${k}`);
  }
  const pairs: [number, number][] = [];
  for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) pairs.push([i, j]);
  const panelWidth = options.panelWidth ?? (k === 2 ? 560 : 360);
  const panelHeight = options.panelHeight ?? (k === 2 ? 440 : 300);
  for (const [name, value] of [
    ["panelWidth", panelWidth],
    ["panelHeight", panelHeight],
  ] as const) {
    if (!Number.isFinite(value) || value < MARGIN.left + MARGIN.right + 40) {
      throw new ParetoInputError("INVALID_PLOT_OPTIONS", `${name} must be a number ≥ ${MARGIN.left + MARGIN.right + 40}, got ${value}`);
    }
  }
  const columns = Math.min(pairs.length, 3);
  const rows = Math.ceil(pairs.length / columns);
  const legend = legendEntries(report, k === 2);
  const width = columns * panelWidth + LEGEND_WIDTH;
  const height = HEADER_HEIGHT + Math.max(rows * panelHeight, legend.length * LEGEND_ROW + 24);

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="Helvetica, Arial, sans-serif" font-size="11">`,
  );
  const title = options.title ?? "Pareto front";
  parts.push(`<title>${escapeXml(title)}</title>`);
  parts.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(`<text x="12" y="22" font-size="16" font-weight="bold">${escapeXml(title)}</text>`);
  parts.push(
    `<text x="12" y="42" font-size="12">${escapeXml(
      `HV = ${formatNumber(report.hypervolume)} · MIP = ${formatNumber(report.mip)} · z = (${report.referencePoint
        .map(formatNumber)
        .join(", ")}), ${describeRule(report)}`,
    )}</text>`,
  );
  pairs.forEach(([xObjective, yObjective], p) => {
    const originX = (p % columns) * panelWidth;
    const originY = HEADER_HEIGHT + Math.floor(p / columns) * panelHeight;
    parts.push(renderPanel(report, xObjective, yObjective, originX, originY, panelWidth, panelHeight, k === 2));
  });
  parts.push(renderLegend(legend, columns * panelWidth + 8, HEADER_HEIGHT + 8));
  parts.push("</svg>");
  return parts.join("\n");
}

function describeRule(report: ParetoReport): string {
  const rule = report.rule;
  switch (rule.rule) {
    case "explicit":
      return "explicit";
    case "min-minus-margin":
      return `per-objective min − ${rule.margin}·range`;
    case "baseline":
      return `baseline ${rule.name}`;
    default:
      throw new UnreachableCaseError(rule);
  }
}

interface Scale {
  (value: number): number;
  readonly ticks: number[];
}

function linearScale(values: readonly number[], pixelFrom: number, pixelTo: number): Scale {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (hi - lo === 0) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= pad;
    hi += pad;
  }
  const padding = (hi - lo) * 0.06;
  lo -= padding;
  hi += padding;
  const scale = ((value: number) => pixelFrom + ((value - lo) / (hi - lo)) * (pixelTo - pixelFrom)) as Scale;
  return Object.assign(scale, { ticks: niceTicks(lo, hi, 5) });
}

/** Ticks at multiples of 1, 2 or 5 × 10^e inside [lo, hi], about `count` of them. */
export function niceTicks(lo: number, hi: number, count: number): number[] {
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const normalized = raw / magnitude;
  const step = (normalized < 1.5 ? 1 : normalized < 3 ? 2 : normalized < 7 ? 5 : 10) * magnitude;
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

function renderPanel(
  report: ParetoReport,
  xObjective: number,
  yObjective: number,
  originX: number,
  originY: number,
  width: number,
  height: number,
  drawFrontLine: boolean,
): string {
  const left = originX + MARGIN.left;
  const right = originX + width - MARGIN.right;
  const top = originY + MARGIN.top;
  const bottom = originY + height - MARGIN.bottom;
  const all = [
    ...report.points.map((p) => p.rewards),
    ...report.baselines.flatMap((s) => s.points.map((b) => b.rewards)),
    report.referencePoint,
  ];
  const x = linearScale(
    all.map((r) => r[xObjective]),
    left,
    right,
  );
  const y = linearScale(
    all.map((r) => r[yObjective]),
    bottom,
    top,
  );
  const out: string[] = [];
  out.push(`<g class="panel" data-x="${xObjective}" data-y="${yObjective}">`);
  out.push(`<rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}" fill="none" stroke="#cccccc"/>`);
  for (const t of x.ticks) {
    const px = fmt(x(t));
    out.push(`<line x1="${px}" y1="${top}" x2="${px}" y2="${bottom}" stroke="#eeeeee"/>`);
    out.push(`<line x1="${px}" y1="${bottom}" x2="${px}" y2="${bottom + 5}" stroke="#333333"/>`);
    out.push(`<text x="${px}" y="${bottom + 17}" text-anchor="middle">${escapeXml(formatNumber(t))}</text>`);
  }
  for (const t of y.ticks) {
    const py = fmt(y(t));
    out.push(`<line x1="${left}" y1="${py}" x2="${right}" y2="${py}" stroke="#eeeeee"/>`);
    out.push(`<line x1="${left - 5}" y1="${py}" x2="${left}" y2="${py}" stroke="#333333"/>`);
    out.push(`<text x="${left - 8}" y="${py}" text-anchor="end" dominant-baseline="middle">${escapeXml(formatNumber(t))}</text>`);
  }
  out.push(`<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#333333"/>`);
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#333333"/>`);
  out.push(
    `<text x="${fmt((left + right) / 2)}" y="${bottom + 38}" text-anchor="middle" font-size="12">${escapeXml(
      report.objectiveNames[xObjective],
    )}</text>`,
  );
  const labelY = fmt((top + bottom) / 2);
  out.push(
    `<text x="${originX + 16}" y="${labelY}" text-anchor="middle" font-size="12" transform="rotate(-90 ${originX + 16} ${labelY})">${escapeXml(
      report.objectiveNames[yObjective],
    )}</text>`,
  );

  if (drawFrontLine) out.push(frontStepLine(report, x, y));

  const zx = fmt(x(report.referencePoint[xObjective]));
  const zy = fmt(y(report.referencePoint[yObjective]));
  out.push(marker("cross", zx, zy, REFERENCE_COLOR, "reference point z"));
  out.push(`<text x="${zx + 7}" y="${zy + 12}" fill="${REFERENCE_COLOR}">z</text>`);

  for (const p of report.points) {
    const px = fmt(x(p.rewards[xObjective]));
    const py = fmt(y(p.rewards[yObjective]));
    const fill = p.onFront ? FRONT_COLOR : "#ffffff";
    const stroke = p.onFront ? FRONT_COLOR : OFF_FRONT_COLOR;
    out.push(
      `<circle cx="${px}" cy="${py}" r="4" fill="${fill}" stroke="${stroke}" stroke-width="1.5"><title>${escapeXml(
        `α = ${p.label}: (${p.rewards.map(formatNumber).join(", ")})`,
      )}</title></circle>`,
    );
    out.push(`<text class="alpha-label" x="${px + 6}" y="${py - 6}" font-size="10">${escapeXml(p.label)}</text>`);
  }
  report.baselines.forEach((series, s) => {
    const color = BASELINE_COLORS[s % BASELINE_COLORS.length];
    const shape = BASELINE_SHAPES[s % BASELINE_SHAPES.length];
    for (const b of series.points) {
      const px = fmt(x(b.rewards[xObjective]));
      const py = fmt(y(b.rewards[yObjective]));
      out.push(marker(shape, px, py, color, b.label));
      out.push(`<text class="baseline-label" x="${px + 7}" y="${py + 12}" font-size="10" fill="${color}">${escapeXml(b.label)}</text>`);
    }
  });
  out.push("</g>");
  return out.join("\n");
}

/** Boundary of the region the front dominates: from (z_x, y_1) across the staircase down to (x_m, z_y), where the
 *  front is sorted by the x objective ascending (so y descends). */
function frontStepLine(report: ParetoReport, x: Scale, y: Scale): string {
  const front = report.front
    .map((i) => report.points[i].rewards)
    .sort((a, b) => a[0] - b[0] || b[1] - a[1])
    .filter((p, i, list) => i === 0 || p[0] !== list[i - 1][0] || p[1] !== list[i - 1][1]);
  if (front.length === 0) return "";
  const [zx, zy] = report.referencePoint;
  const vertices: [number, number][] = [[zx, front[0][1]]];
  front.forEach((p, i) => {
    if (i > 0) vertices.push([front[i - 1][0], p[1]]);
    vertices.push([p[0], p[1]]);
  });
  vertices.push([front[front.length - 1][0], zy]);
  const d = vertices.map(([vx, vy], i) => `${i === 0 ? "M" : "L"}${fmt(x(vx))},${fmt(y(vy))}`).join(" ");
  return `<path class="pareto-front" d="${d}" fill="none" stroke="${FRONT_COLOR}" stroke-width="2"/>`;
}

interface LegendEntry {
  readonly label: string;
  readonly draw: (cx: number, cy: number) => string;
}

function legendEntries(report: ParetoReport, withFrontLine: boolean): LegendEntry[] {
  const entries: LegendEntry[] = [
    {
      label: "sweep point, labelled by α",
      draw: (cx, cy) => `<circle cx="${cx}" cy="${cy}" r="4" fill="#ffffff" stroke="${OFF_FRONT_COLOR}" stroke-width="1.5"/>`,
    },
    {
      label: "on the Pareto front",
      draw: (cx, cy) => `<circle cx="${cx}" cy="${cy}" r="4" fill="${FRONT_COLOR}" stroke="${FRONT_COLOR}" stroke-width="1.5"/>`,
    },
  ];
  if (withFrontLine) {
    entries.push({
      label: "Pareto front (dominated region)",
      draw: (cx, cy) => `<line x1="${cx - 8}" y1="${cy}" x2="${cx + 8}" y2="${cy}" stroke="${FRONT_COLOR}" stroke-width="2"/>`,
    });
  }
  entries.push({ label: "reference point z", draw: (cx, cy) => marker("cross", cx, cy, REFERENCE_COLOR) });
  report.baselines.forEach((series, s) => {
    const color = BASELINE_COLORS[s % BASELINE_COLORS.length];
    const shape = BASELINE_SHAPES[s % BASELINE_SHAPES.length];
    entries.push({
      label: `${series.name} (HV ${formatNumber(series.hypervolume)})`,
      draw: (cx, cy) => marker(shape, cx, cy, color),
    });
  });
  return entries;
}

function renderLegend(entries: readonly LegendEntry[], x: number, y: number): string {
  const out = [`<g class="legend">`];
  out.push(
    `<rect x="${x}" y="${y}" width="${LEGEND_WIDTH - 16}" height="${entries.length * LEGEND_ROW + 12}" fill="#ffffff" stroke="#cccccc"/>`,
  );
  entries.forEach((entry, i) => {
    const cy = y + 16 + i * LEGEND_ROW;
    out.push(entry.draw(x + 16, cy));
    out.push(`<text x="${x + 32}" y="${cy}" dominant-baseline="middle">${escapeXml(entry.label)}</text>`);
  });
  out.push("</g>");
  return out.join("\n");
}

function marker(shape: MarkerShape, cx: number, cy: number, color: string, tooltip?: string): string {
  const title = tooltip === undefined ? "" : `<title>${escapeXml(tooltip)}</title>`;
  const close = title === "" ? "/>" : `>${title}`;
  switch (shape) {
    case "square":
      return `<rect x="${cx - 5}" y="${cy - 5}" width="10" height="10" fill="${color}"${close}${title === "" ? "" : "</rect>"}`;
    case "triangle":
      return `<polygon points="${cx},${cy - 6} ${cx + 6},${cy + 5} ${cx - 6},${cy + 5}" fill="${color}"${close}${title === "" ? "" : "</polygon>"}`;
    case "diamond":
      return `<polygon points="${cx},${cy - 7} ${cx + 6},${cy} ${cx},${cy + 7} ${cx - 6},${cy}" fill="${color}"${close}${title === "" ? "" : "</polygon>"}`;
    case "cross":
      return `<path d="M${cx - 5},${cy - 5} L${cx + 5},${cy + 5} M${cx - 5},${cy + 5} L${cx + 5},${cy - 5}" stroke="${color}" stroke-width="2"${close}${title === "" ? "" : "</path>"}`;
    default:
      throw new UnreachableCaseError(shape);
  }
}

/** Pixel coordinate rounded to 0.01. */
function fmt(value: number): number {
  return Math.round(value * 100) / 100;
}

/** Up to 6 significant digits, no exponent for ordinary magnitudes, never "-0". */
function formatNumber(value: number): string {
  const rounded = Number(value.toPrecision(6));
  return String(Object.is(rounded, -0) ? 0 : rounded);
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => {
    switch (c) {
      case "&":
        return "&amp;";
      case "<":
        return "&lt;";
      case ">":
        return "&gt;";
      case '"':
        return "&quot;";
      default:
        return "&apos;";
    }
  });
}
