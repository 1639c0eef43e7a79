/** @module web/charts/ParetoPlot
 *  The Pareto plot on uPlot (facet mode): each evaluation's points (mean evaluator reward per objective at each α,
 *  labelled by α), its front as a step line (the boundary of the region it dominates above the reference point),
 *  and the reference point. Up to 3 evaluations overlay in different colours. Points can arrive one by one: data
 *  flows through `setData`, the scales follow. Two objectives are plotted; with more, the chosen pair. */
import { forwardRef, useEffect, useImperativeHandle, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { chartColors, themeColor } from "./palette.ts";

export interface ParetoSet {
  label: string;
  points: readonly { index: number; alpha: readonly number[]; rewards: readonly number[] }[];
  /** Indices into `points` of the front. */
  front: readonly number[];
  referencePoint: readonly number[] | null;
}

export interface ParetoPlotHandle {
  /** The plot as a PNG. */
  toPng(): Promise<Blob | null>;
}

interface Props {
  sets: readonly ParetoSet[];
  axes: readonly [number, number];
  axisNames: readonly [string, string];
  height?: number;
  testId?: string;
}

function extent(sets: readonly ParetoSet[], axis: number): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (const s of sets) {
    for (const p of s.points) {
      const v = p.rewards[axis];
      if (v === undefined || !Number.isFinite(v)) continue;
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    const z = s.referencePoint?.[axis];
    if (z !== undefined && Number.isFinite(z)) {
      min = Math.min(min, z);
      max = Math.max(max, z);
    }
  }
  if (!Number.isFinite(min)) return [0, 1];
  const span = max - min || Math.max(Math.abs(max), 1);
  return [min - 0.08 * span, max + 0.08 * span];
}

export const ParetoPlot = forwardRef<ParetoPlotHandle, Props>(function ParetoPlot({ sets, axes, axisNames, height = 420, testId }, ref) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const current = useRef({ sets, axes });
  current.current = { sets, axes };
  const shape = `${sets.length}|${axes.join(",")}|${axisNames.join(",")}`;

  useImperativeHandle(ref, () => ({
    toPng: () =>
      new Promise<Blob | null>((resolve) => {
        const canvas = plot.current?.ctx.canvas;
        if (!canvas) return resolve(null);
        canvas.toBlob((b) => resolve(b), "image/png");
      }),
  }));

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const colors = chartColors();
    const text = themeColor("text");
    const axis = { stroke: themeColor("muted"), grid: { stroke: themeColor("border"), width: 1 }, ticks: { stroke: themeColor("border") } };
    const draw = (u: uPlot) => {
      const { sets: all, axes: [ax, ay] } = current.current;
      const ctx = u.ctx;
      const px = uPlot.pxRatio;
      ctx.save();
      ctx.beginPath();
      ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
      ctx.clip();
      ctx.font = `${11 * px}px system-ui, sans-serif`;
      all.forEach((set, si) => {
        const color = colors[si % colors.length]!;
        const X = (v: number) => u.valToPos(v, "x", true);
        const Y = (v: number) => u.valToPos(v, "y", true);
        const z = set.referencePoint && set.referencePoint.length > Math.max(ax, ay) ? [set.referencePoint[ax]!, set.referencePoint[ay]!] : null;
        // Front: sorted by the x objective ascending; the dominated region's boundary is a descending staircase.
        const front = set.front
          .map((i) => set.points[i])
          .filter((p): p is NonNullable<typeof p> => p !== undefined)
          .map((p) => [p.rewards[ax]!, p.rewards[ay]!] as const)
          .sort((a, b) => a[0] - b[0] || b[1] - a[1]);
        if (front.length > 0) {
          ctx.strokeStyle = color;
          ctx.lineWidth = 2 * px;
          ctx.setLineDash([]);
          ctx.beginPath();
          const [fx0, fy0] = front[0]!;
          ctx.moveTo(X(z ? z[0] : fx0), Y(fy0));
          ctx.lineTo(X(fx0), Y(fy0));
          for (let i = 1; i < front.length; i++) {
            const [x, y] = front[i]!;
            ctx.lineTo(X(front[i - 1]![0]), Y(y));
            ctx.lineTo(X(x), Y(y));
          }
          const last = front[front.length - 1]!;
          ctx.lineTo(X(last[0]), Y(z ? z[1] : last[1]));
          ctx.stroke();
        }
        if (z) {
          ctx.strokeStyle = color;
          ctx.lineWidth = 1.5 * px;
          ctx.setLineDash([4 * px, 3 * px]);
          const [zx, zy] = [X(z[0]), Y(z[1])];
          ctx.beginPath();
          ctx.moveTo(zx - 7 * px, zy);
          ctx.lineTo(zx + 7 * px, zy);
          ctx.moveTo(zx, zy - 7 * px);
          ctx.lineTo(zx, zy + 7 * px);
          ctx.stroke();
          ctx.setLineDash([]);
          ctx.fillStyle = color;
          ctx.fillText("ref", zx + 6 * px, zy + 12 * px);
        }
        const onFront = new Set(set.front);
        // Points that land on the same pixel share one marker; their α labels stack beside it.
        const labels = new Map<string, { x: number; y: number; texts: string[] }>();
        set.points.forEach((p, i) => {
          const [x, y] = [X(p.rewards[ax]!), Y(p.rewards[ay]!)];
          ctx.beginPath();
          ctx.arc(x, y, (onFront.has(i) ? 6 : 4.5) * px, 0, 2 * Math.PI);
          ctx.fillStyle = color;
          ctx.fill();
          if (onFront.has(i)) {
            ctx.strokeStyle = text;
            ctx.lineWidth = 1.5 * px;
            ctx.stroke();
          }
          const key = `${Math.round(x / (4 * px))},${Math.round(y / (4 * px))}`;
          const entry = labels.get(key) ?? { x, y, texts: [] };
          entry.texts.push(`(${p.alpha.map((a) => Number(a.toFixed(2))).join(", ")})`);
          labels.set(key, entry);
        });
        ctx.fillStyle = text;
        for (const { x, y, texts } of labels.values()) {
          const right = x + 150 * px < u.bbox.left + u.bbox.width;
          ctx.textAlign = right ? "left" : "right";
          texts.forEach((t, j) => ctx.fillText(t, x + (right ? 9 : -9) * px, y - 6 * px + j * 13 * px));
        }
        ctx.textAlign = "left";
      });
      ctx.restore();
    };
    const opts: uPlot.Options = {
      mode: 2,
      width: Math.max(320, el.clientWidth),
      height,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: false, auto: true, range: () => extent(current.current.sets, current.current.axes[0]) },
        y: { auto: true, range: () => extent(current.current.sets, current.current.axes[1]) },
      },
      axes: [
        { ...axis, label: `reward: ${axisNames[0]}` },
        { ...axis, label: `reward: ${axisNames[1]}`, size: 60 },
      ],
      series: [{}, ...sets.map((s, i) => ({ label: s.label, stroke: colors[i % colors.length], fill: colors[i % colors.length], paths: () => null, points: { show: false } }))],
      hooks: { draw: [draw] },
    };
    const u = new uPlot(opts, facets(sets, axes) as unknown as uPlot.AlignedData, el);
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(320, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, height]);

  useEffect(() => {
    plot.current?.setData(facets(sets, axes) as unknown as uPlot.AlignedData);
  }, [sets, axes]);

  const count = sets.reduce((n, s) => n + s.points.length, 0);
  return (
    <div
      ref={host}
      className="chart"
      role="img"
      aria-label={`Pareto plot of ${axisNames[0]} against ${axisNames[1]}: ${count} points in ${sets.length} evaluation(s)`}
      data-testid={testId}
      data-points={count}
    />
  );
});

function facets(sets: readonly ParetoSet[], [ax, ay]: readonly [number, number]): unknown[] {
  return [null, ...sets.map((s) => [s.points.map((p) => p.rewards[ax] ?? 0), s.points.map((p) => p.rewards[ay] ?? 0)])];
}
