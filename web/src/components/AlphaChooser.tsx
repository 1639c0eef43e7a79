/** @module web/components/AlphaChooser
 *  Choose a preference vector α on the simplex of k dimensions, in the adapter's α order:
 *  k = 2 — a slider (α₀ on the left, α₁ = 1 − α₀); k = 3 — a point dragged on a triangle whose corners are the
 *  dimensions (arrow keys move it; values shown beside); other k — numeric inputs, normalised to sum to 1. */
import { useId, useRef, type KeyboardEvent, type PointerEvent } from "react";
import { fromBarycentric, normalise, toBarycentric, type Point } from "../lib/simplex.ts";


export function AlphaChooser({ names, value, onChange, label }: { names: readonly string[]; value: readonly number[]; onChange(alpha: number[]): void; label: string }) {
  const k = names.length;
  if (k === 2) return <Slider names={names} value={value} onChange={onChange} label={label} />;
  if (k === 3) return <Triangle names={names} value={value} onChange={onChange} label={label} />;
  return <Numeric names={names} value={value} onChange={onChange} label={label} />;
}

const round = (v: number) => Math.round(v * 1000) / 1000;

function Slider({ names, value, onChange, label }: { names: readonly string[]; value: readonly number[]; onChange(alpha: number[]): void; label: string }) {
  const id = useId();
  const a0 = value[0] ?? 0.5;
  return (
    <div className="alpha-slider field">
      <label htmlFor={id}>
        {label}: {names[0]} {a0.toFixed(2)} · {names[1]} {(1 - a0).toFixed(2)}
      </label>
      <input
        id={id}
        type="range"
        min={0}
        max={1}
        step={0.05}
        value={a0}
        aria-valuetext={`${names[0]} ${a0.toFixed(2)}, ${names[1]} ${(1 - a0).toFixed(2)}`}
        onChange={(e) => {
          const v = round(Number(e.target.value));
          onChange([v, round(1 - v)]);
        }}
      />
      <div className="row muted" style={{ justifyContent: "space-between" }} aria-hidden="true">
        <span>all {names[1]}</span>
        <span>all {names[0]}</span>
      </div>
    </div>
  );
}

const W = 180;
const H = 160;
const CORNERS: readonly [Point, Point, Point] = [
  [W / 2, 12],
  [12, H - 12],
  [W - 12, H - 12],
];

function Triangle({ names, value, onChange, label }: { names: readonly string[]; value: readonly number[]; onChange(alpha: number[]): void; label: string }) {
  const svg = useRef<SVGSVGElement>(null);
  const dragging = useRef(false);
  const [px, py] = fromBarycentric(CORNERS, value);
  const at = (e: PointerEvent<SVGSVGElement>) => {
    const box = svg.current!.getBoundingClientRect();
    onChange(toBarycentric(CORNERS, ((e.clientX - box.left) / box.width) * W, ((e.clientY - box.top) / box.height) * H));
  };
  const onKey = (e: KeyboardEvent<SVGSVGElement>) => {
    const step = 6;
    const moves: Record<string, [number, number]> = { ArrowUp: [0, -step], ArrowDown: [0, step], ArrowLeft: [-step, 0], ArrowRight: [step, 0] };
    const move = moves[e.key];
    if (!move) return;
    e.preventDefault();
    onChange(toBarycentric(CORNERS, px + move[0], py + move[1]));
  };
  const text = names.map((n, i) => `${n} ${(value[i] ?? 0).toFixed(2)}`).join(", ");
  return (
    <div className="field">
      <span className="field-label">{label}</span>
      <svg
        ref={svg}
        className="triangle"
        width={W}
        height={H}
        viewBox={`0 0 ${W} ${H}`}
        role="slider"
        tabIndex={0}
        aria-label={`${label} (triangle: arrow keys move the point)`}
        aria-valuetext={text}
        aria-valuenow={value[0] ?? 0}
        aria-valuemin={0}
        aria-valuemax={1}
        onKeyDown={onKey}
        onPointerDown={(e) => {
          dragging.current = true;
          e.currentTarget.setPointerCapture(e.pointerId);
          at(e);
        }}
        onPointerMove={(e) => dragging.current && at(e)}
        onPointerUp={() => (dragging.current = false)}
      >
        <polygon points={CORNERS.map((c) => c.join(",")).join(" ")} fill="var(--code-bg)" stroke="var(--border)" strokeWidth={2} />
        {CORNERS.map(([cx, cy], i) => (
          <text key={names[i]} x={cx} y={i === 0 ? cy - 2 : cy + 11} textAnchor={i === 0 ? "middle" : i === 1 ? "start" : "end"} fontSize={10} fill="var(--muted)">
            {names[i]}
          </text>
        ))}
        <circle cx={px} cy={py} r={7} fill="var(--accent)" stroke="var(--panel)" strokeWidth={2} />
      </svg>
      <span className="muted">{text}</span>
    </div>
  );
}

function Numeric({ names, value, onChange, label }: { names: readonly string[]; value: readonly number[]; onChange(alpha: number[]): void; label: string }) {
  const base = useId();
  return (
    <fieldset>
      <legend>{label}</legend>
      <div className="form-grid">
        {names.map((n, i) => (
          <div className="field" key={n}>
            <label htmlFor={`${base}-${i}`}>{n}</label>
            <input
              id={`${base}-${i}`}
              type="number"
              min={0}
              step="any"
              value={value[i] ?? 0}
              onChange={(e) => {
                const next = [...value];
                next[i] = Number(e.target.value);
                onChange(next);
              }}
            />
          </div>
        ))}
      </div>
      <button type="button" onClick={() => onChange(normalise(value))}>
        Normalise to sum 1
      </button>
    </fieldset>
  );
}
