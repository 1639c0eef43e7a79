/** @module web/lib/simplex
 *  Preference vectors α on the probability simplex, as the α choosers edit them: rounding that keeps Σα = 1 exactly,
 *  and the triangle's barycentric coordinates (k = 3). Pure: no DOM, unit-tested in test/console/console-lib.test.ts. */

const round = (v: number) => Math.round(v * 1000) / 1000;

/** α rounded to 3 decimals, negatives and non-finite entries as 0, the rounding error folded into the largest
 *  entry so it sums to exactly 1 (within the api's 1e-6); all zeros become the uniform vector. */
export function normalise(alpha: readonly number[]): number[] {
  const clean = alpha.map((a) => (Number.isFinite(a) && a > 0 ? a : 0));
  const sum = clean.reduce((s, a) => s + a, 0);
  if (sum <= 0) {
    const r = clean.map(() => round(1 / clean.length));
    r[0] = round(r[0]! + round(1 - r.reduce((s, a) => s + a, 0)));
    return r;
  }
  const r = clean.map((a) => round(a / sum));
  const diff = round(1 - r.reduce((s, a) => s + a, 0));
  const top = r.indexOf(Math.max(...r));
  r[top] = round(r[top]! + diff);
  return r;
}

export type Point = readonly [number, number];

/** The α (normalised) of point (x, y) in the triangle with `corners` (corner i = all weight on dimension i); a
 *  point outside the triangle is projected onto it by clamping negative weights to 0. */
export function toBarycentric(corners: readonly [Point, Point, Point], x: number, y: number): number[] {
  const [[x1, y1], [x2, y2], [x3, y3]] = corners;
  const det = (y2 - y3) * (x1 - x3) + (x3 - x2) * (y1 - y3);
  const a = ((y2 - y3) * (x - x3) + (x3 - x2) * (y - y3)) / det;
  const b = ((y3 - y1) * (x - x3) + (x1 - x3) * (y - y3)) / det;
  return normalise([a, b, 1 - a - b]);
}

/** The point of α in the triangle. */
export function fromBarycentric(corners: readonly [Point, Point, Point], alpha: readonly number[]): [number, number] {
  let x = 0;
  let y = 0;
  corners.forEach(([cx, cy], i) => {
    x += (alpha[i] ?? 0) * cx;
    y += (alpha[i] ?? 0) * cy;
  });
  return [x, y];
}

/** `n` starting vectors over k dimensions, spread from all-first to all-last (k = 2: 1, 0.5, 0 …). */
export function spreadAlphas(k: number, n: number): number[][] {
  if (k === 0) return [[]];
  return Array.from({ length: n }, (_, i) => {
    if (k === 1) return [1];
    const t = n === 1 ? 0.5 : i / (n - 1);
    const a = Array.from({ length: k }, () => 0);
    a[0] = 1 - t;
    a[k - 1] = t;
    return normalise(a);
  });
}
