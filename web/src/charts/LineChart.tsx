/** @module web/charts/LineChart
 *  A streaming line chart on uPlot: one x array, one or more series. New data is pushed with `setData` (no
 *  re-creation), so a curve grows as events arrive; the chart follows its container's width. The figure is
 *  labelled with its latest values for screen readers and carries the point count for tests. */
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { chartColors, themeColor } from "./palette.ts";

export interface LineSeries {
  label: string;
  values: readonly (number | null)[];
}

export function LineChart({
  title,
  x,
  xLabel,
  yLabel,
  series,
  height = 240,
  testId,
}: {
  title: string;
  x: readonly number[];
  xLabel: string;
  yLabel: string;
  series: readonly LineSeries[];
  height?: number;
  testId?: string;
}) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const labels = series.map((s) => s.label).join("\u0000");

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const colors = chartColors();
    const axis = { stroke: themeColor("muted"), grid: { stroke: themeColor("border"), width: 1 }, ticks: { stroke: themeColor("border") } };
    const opts: uPlot.Options = {
      width: Math.max(300, el.clientWidth),
      height,
      scales: { x: { time: false } },
      axes: [
        { ...axis, label: xLabel },
        { ...axis, label: yLabel, size: 60 },
      ],
      series: [
        { label: xLabel },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: colors[i % colors.length],
          width: 2,
          spanGaps: true,
          points: { show: false },
        })),
      ],
      legend: { show: true },
    };
    const u = new uPlot(opts, [[], ...series.map(() => [])] as unknown as uPlot.AlignedData, el);
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(300, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
    // Re-create only when the series themselves change; data flows through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [labels, height, xLabel, yLabel]);

  useEffect(() => {
    plot.current?.setData([x as number[], ...series.map((s) => s.values as (number | null)[])] as uPlot.AlignedData);
  }, [x, series]);

  const latest = series
    .map((s) => {
      const v = s.values[s.values.length - 1];
      return `${s.label} ${v === null || v === undefined ? "—" : v.toPrecision(4)}`;
    })
    .join(", ");
  return (
    <figure className="chart-figure" style={{ margin: 0 }}>
      <figcaption className="chart-title">{title}</figcaption>
      <div
        ref={host}
        className="chart"
        role="img"
        aria-label={`${title}: ${x.length} points${x.length ? `; latest at ${xLabel} ${x[x.length - 1]}: ${latest}` : ""}`}
        data-testid={testId}
        data-points={x.length}
      />
    </figure>
  );
}
