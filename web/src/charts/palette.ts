/** @module web/charts/palette — chart colours from the CSS variables (light and dark themes). */
export function chartColors(): string[] {
  const style = getComputedStyle(document.documentElement);
  return [1, 2, 3, 4, 5, 6].map((i) => style.getPropertyValue(`--chart-${i}`).trim() || "#2456c9");
}

export function themeColor(name: "text" | "muted" | "border"): string {
  return getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim() || "#888";
}

/** Download `blob` as `fileName`. */
export function downloadBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
